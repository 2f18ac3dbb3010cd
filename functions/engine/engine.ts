import { type CapabilityName, type Config, capabilitiesOf, type ServiceConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import { classifyAwsError, SupersededError } from '../core/errors';
import type { Log } from '../core/log';
import { activeSite, type CapabilityStatus, type Phase } from '../core/types';
import type { ServiceRecord, StateStore } from '../state/store';
import { type AlarmStateReader, autoFailback } from './auto-failback';
import { type ActionResult, type CapabilityPlan, type CapabilitySource, reasonKey } from './capability';
import type { CapabilityModule } from './module';
import type { Reporter } from './reporter';

/** Everything the control plane needs, injected: real clients in Lambda and the CLI, fakes in unit tests. */
export interface ControlPlane {
  readonly config: Config;
  /** The capability modules this control plane knows (the registry, or a test's list). */
  readonly modules: readonly CapabilityModule[];
  readonly store: StateStore;
  /** Each capability's observe / plan / execute, created on first use. */
  readonly capability: CapabilitySource;
  readonly reporter: Reporter;
  readonly clock: Clock;
  readonly log: Log;
  /**
   * When to stop starting new work (clock time), so a run ends inside its function's timeout; what is
   * left is said and taken up by the next run. Undefined: no deadline (the CLI).
   */
  readonly deadline?: Date | undefined;
}

/** True once the run should start nothing new. */
export const pastDeadline = (cp: Pick<ControlPlane, 'clock' | 'deadline'>): boolean =>
  cp.deadline !== undefined && cp.clock.now().getTime() >= cp.deadline.getTime();

export interface CapabilityReport {
  readonly service: string;
  readonly capability: CapabilityName;
  readonly epoch: number;
  /** `deferred`: the run's deadline came first; the next run takes this step. */
  readonly phase: Phase | 'superseded' | 'planned' | 'deferred';
  readonly detail: string;
  readonly plan?: CapabilityPlan | undefined;
}

const PHASE_OF: Record<Exclude<CapabilityPlan['kind'], 'act'>, Phase> = {
  converged: 'converged',
  wait: 'waiting',
  refuse: 'refused',
};

const KIND_OF: Record<Phase, 'completed' | 'waiting' | 'refused' | 'error' | 'action'> = {
  converged: 'completed',
  waiting: 'waiting',
  refused: 'refused',
  failed: 'error',
  'in-progress': 'action',
};

/**
 * Takes one capability of one service one safe step towards its desired state.
 * Idempotent: a converged capability makes no write at all (not even its status), so an idle
 * scheduled run only reads. A step that must wait returns; the next run continues.
 */
export const reconcileCapability = async (
  cp: ControlPlane,
  service: ServiceConfig,
  record: ServiceRecord,
  capabilityName: CapabilityName,
  options: { readonly dryRun?: boolean } = {},
): Promise<CapabilityReport> => {
  const { desired } = record;
  const target = activeSite(desired, capabilityName);
  const previous = record.statuses[capabilityName];
  const base = { service: service.name, capability: capabilityName, epoch: desired.epoch };
  // The engine's dry-run rule, for every caller: a dry-run service is only ever planned.
  const dryRun = options.dryRun ?? service.mode === 'dry-run';

  /** Writes status, audit and Slack only when the status changed: repeats stay quiet. */
  const settle = async (
    phase: Phase,
    detail: string,
    options: {
      readonly pending?: Record<string, string> | undefined;
      readonly code?: string | undefined;
    } = {},
  ) => {
    const code = phase === 'converged' ? undefined : options.code;
    const status: CapabilityStatus = {
      capability: capabilityName,
      epoch: desired.epoch,
      active: target,
      phase,
      detail,
      ...(code !== undefined && { code }),
      pending: options.pending,
      updatedAt: cp.clock.now().toISOString(),
    };
    // A converged capability stays converged whatever the wording; a new reason to refuse or fail is
    // news, told once per reason code (the detail text when a planner gives no code).
    const changed =
      previous === undefined ||
      previous.epoch !== status.epoch ||
      previous.phase !== status.phase ||
      (phase !== 'converged' && reasonKey(previous) !== reasonKey(status)) ||
      JSON.stringify(previous.pending ?? {}) !== JSON.stringify(status.pending ?? {});
    if (changed) {
      await cp.store.writeStatus(service.name, status);
      // A first "converged" on a fresh service is bookkeeping, not news.
      const quiet = previous === undefined && phase === 'converged' && desired.epoch === 0;
      cp.reporter.report(
        { ...base, at: status.updatedAt, kind: KIND_OF[phase], message: detail },
        { notify: !quiet },
      );
    }
    return { ...base, phase, detail };
  };

  try {
    const capability = await cp.capability(capabilityName);
    if (!capability) {
      return {
        ...base,
        phase: 'failed',
        detail: `no ${capabilityName} capability is installed in this control plane`,
      };
    }
    const observed = await capability.observe(service, target, previous);
    const plan = capability.plan({
      service,
      target,
      epoch: desired.epoch,
      intent: desired.capabilities[capabilityName],
      observed,
      status: previous,
      now: cp.clock.now(),
    });
    if (dryRun) return { ...base, phase: 'planned', detail: plan.detail, plan };
    if (plan.kind !== 'act') {
      // Until converged, keep what later runs must know (a change id still PENDING, a promotion
      // already issued): a refusal in the middle of a step must not make the next run repeat it.
      const pending = plan.kind === 'converged' ? undefined : previous?.pending;
      return { ...(await settle(PHASE_OF[plan.kind], plan.detail, { pending, code: plan.code })), plan };
    }

    const results: ActionResult[] = [];
    for (const [index, action] of plan.actions.entries()) {
      // The engine's deadline: start no action the function may not live to finish.
      if (pastDeadline(cp)) {
        const detail = `${plan.detail}: ${index} of ${plan.actions.length} action(s) done before the run's deadline; the next run takes the rest`;
        cp.log.info(detail, { ...base });
        return { ...base, phase: 'deferred', detail, plan };
      }
      // Fence before every mutating call, not once per plan: an earlier action, an SDK retry or a
      // rate-limit sleep may have let another trigger move the desired state on.
      const epochNow = await cp.store.readEpoch(service.name);
      if (epochNow !== desired.epoch) {
        const done = index > 0 ? ` after ${index} of ${plan.actions.length} action(s)` : '';
        const detail = `plan for epoch ${desired.epoch} dropped${done}: the desired state is now at epoch ${epochNow}`;
        cp.log.info(detail, { ...base });
        return { ...base, phase: 'superseded', detail, plan };
      }
      cp.reporter.report({
        ...base,
        at: cp.clock.now().toISOString(),
        kind: 'action',
        message: `${action.api}: ${action.reason}`,
        details: { params: action.params },
      });
      results.push(await capability.execute(action, { service, epoch: desired.epoch }));
    }
    const outcome = combineResults(results);
    return outcome.verified
      ? { ...(await settle('converged', `${plan.detail}: ${outcome.detail}`)), plan }
      : {
          ...(await settle('waiting', `${plan.detail}: ${outcome.detail}`, {
            pending: outcome.pending,
            code: plan.code,
          })),
          plan,
        };
  } catch (error) {
    const failure =
      error instanceof SupersededError ? error : classifyAwsError(`${capabilityName} reconcile`, error);
    const detail = failure.retryable
      ? `${failure.message}; the next run will try again`
      : `${failure.message}; needs a person`;
    cp.log.warn('reconcile step failed', { ...base, error: failure.message, retryable: failure.retryable });
    // A plan only reads: it records nothing, not even its own failure.
    if (dryRun) return { ...base, phase: 'failed', detail };
    try {
      return await settle('failed', detail, { pending: previous?.pending });
    } catch (statusError) {
      cp.log.error('could not record the failure either', { error: String(statusError) });
      return { ...base, phase: 'failed', detail };
    }
  }
};

/**
 * One outcome for a plan's actions: verified only if every action was; every action's detail, in
 * order (identical ones once); every action's pending bookkeeping, later keys winning.
 */
export const combineResults = (results: readonly ActionResult[]): ActionResult => {
  const pending = Object.assign({}, ...results.map((r) => r.pending ?? {})) as Record<string, string>;
  return {
    verified: results.every((r) => r.verified),
    detail: [...new Set(results.map((r) => r.detail))].join('; '),
    ...(Object.keys(pending).length > 0 && { pending }),
  };
};

/** Reconciles the given capabilities of one service in parallel, from one consistent read. */
export const reconcileService = async (
  cp: ControlPlane,
  service: ServiceConfig,
  capabilities: readonly CapabilityName[] = capabilitiesOf(service, cp.modules),
  options: { readonly dryRun?: boolean; readonly record?: ServiceRecord } = {},
): Promise<CapabilityReport[]> => {
  const record = options.record ?? (await cp.store.readService(service.name));
  return Promise.all(capabilities.map((c) => reconcileCapability(cp, service, record, c, options)));
};

/**
 * The scheduled run: every service, one after another, so Route 53's request budget is never spent at once.
 * With `alarmStates`, a service that opted into automatic failback may first be moved back to the
 * primary (functions/engine/auto-failback.ts); any error there is logged and the reconcile still runs.
 */
export const reconcileAll = async (
  cp: ControlPlane,
  options: { readonly alarmStates?: AlarmStateReader | undefined } = {},
): Promise<CapabilityReport[]> => {
  const reports: CapabilityReport[] = [];
  for (const [index, service] of cp.config.services.entries()) {
    if (pastDeadline(cp)) {
      const left = cp.config.services.slice(index).map((s) => s.name);
      cp.log.warn('run deadline reached; the next run reconciles the rest', {
        left: left.length,
        next: left[0],
      });
      break;
    }
    try {
      let record = await cp.store.readService(service.name);
      if (service.autoFailback !== undefined && options.alarmStates !== undefined) {
        try {
          const outcome = await autoFailback(cp, service, record, options.alarmStates);
          // The transition reconciled what it moved; re-read so this run sees the new epoch and statuses.
          if (outcome?.kind === 'transitioned') {
            record = await cp.store.readService(service.name);
          }
        } catch (error) {
          cp.log.error('automatic failback check failed; reconciling as usual', {
            service: service.name,
            error: classifyAwsError(`auto-failback ${service.name}`, error).message,
          });
        }
      }
      reports.push(...(await reconcileService(cp, service, undefined, { record })));
    } catch (error) {
      const failure = classifyAwsError(`reconcile ${service.name}`, error);
      cp.log.error('could not reconcile service; the next run will try again', {
        service: service.name,
        error: failure.message,
      });
    }
  }
  return reports;
};
