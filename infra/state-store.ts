import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';

export interface StateStoreProps {
  readonly config: Config;
}

/**
 * The control plane's only memory: desired state, reconciler progress and the audit log in one
 * table (layout in functions/state/store.ts). Its name comes from the config because the bundled
 * functions address it by that name. It is retained and deletion-protected: losing it would forget
 * that a service has failed over, and the next run would treat the standby as the odd one out.
 */
export class StateStore extends Construct {
  readonly table: ITable;

  constructor(scope: Construct, id: string, props: StateStoreProps) {
    super(scope, id);
    this.table = new Table(this, 'Table', {
      tableName: props.config.controlPlane.stateTableName,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      timeToLiveAttribute: 'expiresAt',
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy: RemovalPolicy.RETAIN,
      deletionProtection: true,
    });
  }
}
