import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { ComputeFailover } from '../functions/capabilities/compute/infra';
import { DatabaseFailover } from '../functions/capabilities/database/infra';
import { DnsFailover } from '../functions/capabilities/dns/infra';
import { MailFailover, mailServicesOf } from '../functions/capabilities/mail/infra';
import type { Config } from '../functions/config/schema';
import { AlarmTrigger, alarmNamesOf } from './alarm-trigger';
import type { ControlFunction } from './control-function';
import { Notifications } from './notifications';
import { Reconciler } from './reconciler';
import { StateStore } from './state-store';

export interface UnderstudyStackProps extends StackProps {
  /** The validated config (functions/config/load.ts); the stack's env comes from its controlPlane. */
  readonly config: Config;
}

/**
 * The control plane: one state table, an alarm trigger, a reconcile schedule, and each capability's
 * permissions granted to both functions.
 *
 * Safety property: this stack creates no Route 53 record sets (or anything else the control plane
 * flips). The reconciler UPSERTs the configured records itself, so CloudFormation never owns them
 * and a later `cdk deploy` (or a rollback) can never put traffic back on a failed primary.
 */
export class UnderstudyStack extends Stack {
  readonly stateStore: StateStore;
  readonly notifications: Notifications;
  readonly dnsFailover: DnsFailover;
  /** The database capability's permissions, RDS event rule and function (absent without a database). */
  readonly databaseFailover: DatabaseFailover;
  /** The compute capability's permissions, EC2 state-change rule and function (absent without compute). */
  readonly computeFailover: ComputeFailover;
  /** SES as backup MX: held-mail bucket, receipt rules and recorder (absent without a mail section). */
  readonly mailFailover: MailFailover | undefined;
  readonly reconciler: Reconciler;
  /** Absent when no service configures an alarm: failovers are then started by an operator only. */
  readonly alarmTrigger: AlarmTrigger | undefined;

  constructor(scope: Construct, id: string, props: UnderstudyStackProps) {
    const { config } = props;
    super(scope, id, {
      description: 'understudy: serverless failover control plane',
      ...props,
      env: props.env ?? { account: config.controlPlane.account, region: config.controlPlane.region },
    });

    this.stateStore = new StateStore(this, 'State', { config });
    this.notifications = new Notifications(this, 'Notifications', { config });
    this.dnsFailover = new DnsFailover(this, 'DnsFailover', { config });
    this.databaseFailover = new DatabaseFailover(this, 'DatabaseFailover', { config });
    this.computeFailover = new ComputeFailover(this, 'ComputeFailover', { config });
    this.mailFailover =
      mailServicesOf(config).length > 0
        ? new MailFailover(this, 'MailFailover', { config, table: this.stateStore.table })
        : undefined;
    this.reconciler = new Reconciler(this, 'Reconciler', { config });
    this.alarmTrigger =
      alarmNamesOf(config).length > 0 ? new AlarmTrigger(this, 'AlarmTrigger', { config }) : undefined;

    const functions: [string, ControlFunction][] = [['Reconcile', this.reconciler.handler]];
    if (this.alarmTrigger) functions.push(['Alarm', this.alarmTrigger.handler]);
    if (this.databaseFailover.eventHandler) functions.push(['RdsEvent', this.databaseFailover.eventHandler]);
    if (this.computeFailover.eventHandler) functions.push(['Ec2Event', this.computeFailover.eventHandler]);

    for (const [name, fn] of functions) {
      this.stateStore.table.grantReadWriteData(fn);
      this.notifications.notifyFrom(fn);
      this.dnsFailover.grantFailover(fn);
      this.mailFailover?.grantHandBack(fn);
      this.databaseFailover.grantFailover(fn);
      this.computeFailover.grantFailover(fn);
      new CfnOutput(this, `${name}FunctionName`, { value: fn.functionName });
      new CfnOutput(this, `${name}DeadLetterQueueUrl`, {
        value: fn.failureQueue.queueUrl,
        description: `Failed ${name.toLowerCase()} invocations and undeliverable events`,
      });
    }
    new CfnOutput(this, 'StateTableName', { value: this.stateStore.table.tableName });
    new CfnOutput(this, 'SlackWebhookSecretArn', {
      value: this.notifications.webhookSecret.secretArn,
      description: 'The secret whose value is the Slack incoming-webhook URL',
    });
  }
}
