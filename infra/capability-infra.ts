import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import type { CapabilityName, Config } from '../functions/config/schema';
import type { ControlFunction } from './control-function';

export interface CapabilityInfraProps {
  /** The validated config; the capability reads its own section of each service. */
  readonly config: Config;
  /** The state table (the mail recorder writes held-mail records to it). */
  readonly table: ITable;
}

/** What one capability deploys: its own resources, and the rights of its executor. */
export interface CapabilityResources {
  /** Grants a function exactly the calls of this capability's executor (observe and act). */
  grantReconcile(fn: IFunction): void;
  /**
   * Grants the readiness function the reads of this capability's readiness check, and nothing that
   * changes anything (infra/readiness.ts). Absent: the capability's readiness is not checked there.
   */
  grantReadiness?(fn: IFunction): void;
  /**
   * Functions that run the engine for this capability alone (e.g. its resource-event function): the
   * stack gives them the state table, Slack and this capability's rights, and nothing else.
   */
  readonly engineFunctions: readonly ControlFunction[];
  /** Functions with rights of their own (e.g. the mail recorder), listed for outputs and monitoring. */
  readonly otherFunctions: readonly ControlFunction[];
}

/**
 * A capability's infrastructure, declared in its own folder (functions/capabilities/<name>/infra.ts)
 * and listed in infra/capabilities.ts. `deploy` is called once, only if some service configures the
 * capability.
 */
export interface CapabilityInfra {
  readonly name: CapabilityName;
  deploy(scope: Construct, props: CapabilityInfraProps): CapabilityResources;
}
