import { type CapabilityName, type Config, capabilitiesOf, type ServiceConfig } from '../config/schema';
import type { Clock } from '../core/clock';
import { classifyAwsError, type RetryableError, SupersededError, type TerminalError } from '../core/errors';
import type { Log } from '../core/log';
import { ENGINE_METRICS, type EngineMetrics } from '../core/metrics';
import { activeSite, type CapabilityStatus, type Phase } from '../core/types';
import { type RecoveryRecorder, recordRecovery } from '../report/recovery';
import type { Lease, ServiceRecord, StateStore } from '../state/store';
import {
  type AlarmStateReader,
  alarmStatesOfBatch,
  autoFailback,
  type ScheduledAlarmCheck,
} from './auto-failback';
import { type CallGuard, mayHaveTakenEffect, withCallGuard } from './call-guard';
import {
  type ActionResult,
  type Capability,
  type CapabilityPlan,
  type CapabilitySource,
  intendedAtKey,
  isIntentKey,
  type PlannedAction,
  reasonKey,
} from './capability';
import {
  checkFence,
  type FenceProof,
  LEASE_RENEW_BELOW_MS,
  type PlanFence,
  planFence,
  withServiceLease,
} from './lease';
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
  /** Makes ids (lease owners, transition request ids); default: random UUIDs. */
  readonly newId?: (() => string) | undefined;
  /** Who runs (a function's name, `cli`), in lease owner ids and logs. */
  readonly runName?: string | undefined;
  /** Where a measured recovery goes besides audit and Slack (metric, report bucket); absent: neither. */
  readonly recovery?: RecoveryRecorder | undefined;
  /** The run's engine metrics (functions/core/metrics.ts), flushed by the handler; absent: none. */
  readonly metrics?: EngineMetrics | undefined;
}

/** True once the run should start nothing new. */
export const pastDeadline = (cp: Pick<ControlPlane, 'clock' | 'deadline'>): boolean =>
  cp.deadline !== undefined && cp.clock.now().getTime() >= cp.deadline.getTime();

export interface CapabilityReport {
  readonly service: string;
  readonly capability: CapabilityName;
  readonly epoch: number;
  /**
   * `deferred`: the run's deadline came first, or another run holds the service; the next run (or
   * the holder) takes this step. `superseded`: the desired state or the service's lease moved on.
   */
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

/** What one capability looks like before anything is written: AWS read, plan made. Reads only. */
export type Assessment =
  | { readonly kind: 'missing' }
  | { readonly kind: 'planned'; readonly capability: Capability; readonly plan: CapabilityPlan }
  | { readonly kind: 'error'; readonly error: RetryableError | TerminalError };

const classify = (capabilityName: CapabilityName, error: unknown): RetryableError | TerminalError =>
  error instanceof SupersededError ? error : classifyAwsError(`${capabilityName} reconcile`, error);

const failureDetail = (failure: RetryableError | TerminalError) =>
  failure.retryable
    ? `${failure.message}; the next run will try again`
    : `${failure.message}; needs a person`;

/** Observes AWS and plans one capability of one service. Never writes; never throws. */
export const assessCapability = async (
  cp: ControlPlane,
  service: ServiceConfig,
  record: ServiceRecord,
  capabilityName: CapabilityName,
): Promise<Assessment> => {
  const { desired } = record;
  const target = activeSite(desired, capabilityName);
  const previous = record.statuses[capabilityName];
  try {
    const capability = await cp.capability(capabilityName);
    if (!capability) return { kind: 'missing' };
    // Taken before the reads: the observe may take long (SDK backoffs, slow calls), and a call recorded
    // as intended is taken as never made only if AWS did not show it in reads made after its grace.
    const observedAt = cp.clock.now();
    const observed = await capability.observe(service, target, previous);
    const plan = capability.plan({
      service,
      target,
      epoch: desired.epoch,
      intent: desired.capabilities[capabilityName],
      observed,
      status: previous,
      now: cp.clock.now(),
      observedAt,
    });
    return { kind: 'planned', capability, plan };
  } catch (error) {
    const failure = classify(capabilityName, error);
    cp.log.warn('reconcile step failed', {
      service: service.name,
      capability: capabilityName,
      epoch: desired.epoch,
      error: failure.message,
      retryable: failure.retryable,
    });
    return { kind: 'error', error: failure };
  }
};

/**
 * True when a status with these fields is news against the stored one: a converged capability stays
 * converged whatever the wording; a new reason to refuse or fail is news, once per reason code (the
 * detail text when a planner gives no code); changed bookkeeping always is.
 */
const statusChanged = (previous: CapabilityStatus | undefined, status: CapabilityStatus): boolean =>
  previous === undefined ||
  previous.epoch !== status.epoch ||
  previous.phase !== status.phase ||
  (status.phase !== 'converged' && reasonKey(previous) !== reasonKey(status)) ||
  JSON.stringify(previous.pending ?? {}) !== JSON.stringify(status.pending ?? {});

/** What settling an assessment without acting would record: phase, detail, bookkeeping. */
const restingOf = (
  assessment: Assessment,
  previous: CapabilityStatus | undefined,
): { phase: Phase; detail: string; pending?: Record<string, string>; code?: string } | undefined => {
  if (assessment.kind === 'missing') return undefined;
  if (assessment.kind === 'error') {
    return { phase: 'failed', detail: failureDetail(assessment.error), pending: previous?.pending };
  }
  const { plan } = assessment;
  if (plan.kind === 'act') return undefined;
  // Until converged, keep what later runs must know (a change id still PENDING, a promotion
  // already intended): a refusal in the middle of a step must not make the next run repeat it.
  return {
    phase: PHASE_OF[plan.kind],
    detail: plan.detail,
    pending: plan.kind === 'converged' ? undefined : previous?.pending,
    code: plan.code,
  };
};

/** True when reconciling this assessment would write anything (an AWS call, a status): it needs the lease. */
export const needsWrite = (record: ServiceRecord, capabilityName: CapabilityName, a: Assessment): boolean => {
  if (a.kind === 'missing') return false;
  if (a.kind === 'planned' && a.plan.kind === 'act') return true;
  const previous = record.statuses[capabilityName];
  const resting = restingOf(a, previous);
  if (!resting) return false;
  const code = resting.phase === 'converged' ? undefined : resting.code;
  return statusChanged(previous, {
    capability: capabilityName,
    epoch: record.desired.epoch,
    active: activeSite(record.desired, capabilityName),
    phase: resting.phase,
    detail: resting.detail,
    ...(code !== undefined && { code }),
    pending: resting.pending,
    updatedAt: '',
  });
};

export interface ReconcileOptions {
  /** Plan only: read AWS, write nothing. Default: the service's mode is dry-run. */
  readonly dryRun?: boolean;
  /** The service's lease, held by this run: required to act or record anything. */
  readonly lease?: Lease | undefined;
  /** The assessment made under this lease's protection already (reads only, not repeated). */
  readonly assessment?: Assessment | undefined;
  /** The transition's proof of epoch and lease (lease.ts): serves the capability's first fence. */
  readonly proof?: FenceProof | undefined;
}

/**
 * Takes one capability of one service one safe step towards its desired state, under the service's
 * lease. Idempotent: a converged capability makes no write at all (not even its status). A step that
 * must wait returns; the next run continues. Before every action: the deadline, and the fence (the
 * epoch is current and the lease is still this run's); every attempt of a mutating AWS call inside an
 * action is fenced again (call-guard.ts). A once-per-epoch call is recorded as intended first.
 */
export const reconcileCapability = async (
  cp: ControlPlane,
  service: ServiceConfig,
  record: ServiceRecord,
  capabilityName: CapabilityName,
  options: ReconcileOptions = {},
): Promise<CapabilityReport> => {
  const { desired } = record;
  const target = activeSite(desired, capabilityName);
  const previous = record.statuses[capabilityName];
  const base = { service: service.name, capability: capabilityName, epoch: desired.epoch };
  // The engine's dry-run rule, for every caller: a dry-run service is only ever planned.
  const dryRun = options.dryRun ?? service.mode === 'dry-run';
  const lease = options.lease;
  if (!dryRun && lease === undefined) {
    throw new Error(
      `reconcileCapability acts on ${service.name} only under its lease (reconcileService takes it)`,
    );
  }
  /** The status as stored now: what this run wrote last, or what it read. */
  let stored = previous;

  const statusOf = (
    phase: Phase,
    detail: string,
    extra: { readonly pending?: Record<string, string> | undefined; readonly code?: string | undefined },
  ): CapabilityStatus => {
    const code = phase === 'converged' ? undefined : extra.code;
    return {
      capability: capabilityName,
      epoch: desired.epoch,
      active: target,
      phase,
      detail,
      ...(code !== undefined && { code }),
      pending: extra.pending,
      updatedAt: cp.clock.now().toISOString(),
      ...(lease && { leaseToken: lease.token }),
    };
  };

  /** Writes status, audit and Slack only when the status changed: repeats stay quiet. */
  const settle = async (
    phase: Phase,
    detail: string,
    extra: {
      readonly pending?: Record<string, string> | undefined;
      readonly code?: string | undefined;
    } = {},
  ): Promise<CapabilityReport> => {
    const status = statusOf(phase, detail, extra);
    if (statusChanged(stored, status)) {
      if (!(await cp.store.writeStatus(service.name, status))) {
        const why = `${phase} not recorded: a newer status (a later epoch or a later holder of the service) is stored`;
        cp.log.debug(why, { ...base });
        return { ...base, phase: 'superseded', detail: `${detail} (${why})` };
      }
      stored = status;
      if (statusChanged(previous, status)) {
        // A first "converged" on a fresh service is bookkeeping, not news.
        const quiet = previous === undefined && phase === 'converged' && desired.epoch === 0;
        cp.reporter.report(
          { ...base, at: status.updatedAt, kind: KIND_OF[phase], message: detail },
          { notify: !quiet },
        );
        if (!quiet) countSettled(cp, capabilityName, phase, movedAt(desired, capabilityName));
      }
    }
    return { ...base, phase, detail };
  };

  const assessment = options.assessment ?? (await assessCapability(cp, service, record, capabilityName));
  if (assessment.kind === 'missing') {
    return {
      ...base,
      phase: 'failed',
      detail: `no ${capabilityName} capability is installed in this control plane`,
    };
  }
  if (assessment.kind === 'error') {
    const detail = failureDetail(assessment.error);
    // A plan only reads: it records nothing, not even its own failure.
    if (dryRun) return { ...base, phase: 'failed', detail };
    return recordFailure(cp, base, detail, () => settle('failed', detail, { pending: previous?.pending }));
  }
  const { capability, plan } = assessment;
  if (dryRun) return { ...base, phase: 'planned', detail: plan.detail, plan };
  const resting = restingOf(assessment, previous);
  if (resting) return { ...(await settle(resting.phase, resting.detail, resting)), plan };
  if (plan.kind !== 'act' || lease === undefined) throw new Error('unreachable: an act plan under a lease');
  const fence = planFence(cp, lease, desired.epoch, options.proof);

  /** What later runs must know, as this run recorded it: once-per-epoch intents are added as made. */
  let pending = previous?.pending;
  const intents: Record<string, string> = {};
  let guard: CallGuard | undefined;
  let inFlight: PlannedAction | undefined;
  const results: ActionResult[] = [];
  /** How far the plan got, for a superseded report: " after 1 of 2 action(s)". */
  let done = '';
  try {
    for (const [index, action] of plan.actions.entries()) {
      done = index > 0 ? ` after ${index} of ${plan.actions.length} action(s)` : '';
      // The engine's deadline: start no action the function may not live to finish.
      if (pastDeadline(cp)) {
        const detail = `${plan.detail}: ${index} of ${plan.actions.length} action(s) done before the run's deadline; the next run takes the rest`;
        cp.log.info(detail, { ...base });
        return { ...base, phase: 'deferred', detail, plan };
      }
      // Fenced before every action, not once per plan: an earlier action, an SDK retry or a rate-limit
      // sleep may have let another trigger move the desired state on, or the lease run out. Every
      // mutating attempt inside the action is fenced at the last moment (the call guard); a
      // once-per-epoch action's intent is written under the fence too (writeFencedStatus), so that
      // no intent is recorded for an epoch that is no longer current.
      if (action.once !== undefined) {
        // Recorded before it is called: a run that dies in the call leaves the record, and the next
        // run looks at AWS to see whether it happened instead of calling again.
        intents[action.once] = String(desired.epoch);
        intents[intendedAtKey(action.once)] = cp.clock.now().toISOString();
        pending = { ...pending, ...intents };
        const intent = statusOf(
          'in-progress',
          `${action.api} recorded as intended before it is called (at most once in epoch ${desired.epoch}): ${action.reason}`,
          { pending, code: plan.code },
        );
        try {
          if (!(await recordIntent(cp, service.name, intent, lease, fence))) {
            const detail = `plan for epoch ${desired.epoch} dropped${done}: a newer status is stored`;
            cp.log.info(detail, { ...base });
            return { ...base, phase: 'superseded', detail, plan };
          }
        } catch (error) {
          if (!(error instanceof SupersededError)) throw error;
          const detail = error.message.replace(/ dropped: /, ` dropped${done}: `);
          cp.log.info(detail, { ...base });
          return { ...base, phase: 'superseded', detail, plan };
        }
        stored = intent;
      }
      // The action is recorded once its fence has passed: before its first mutating call leaves, or
      // when it returns if it made none. A plan the fence drops leaves no action in the audit log,
      // and neither does an action that failed before any mutating call (its failure is recorded).
      let recorded = false;
      const record = () => {
        if (recorded) return;
        recorded = true;
        cp.reporter.report({
          ...base,
          at: cp.clock.now().toISOString(),
          kind: 'action',
          message: `${action.api}: ${action.reason}`,
          details: { params: action.params },
        });
      };
      if (action.once !== undefined) record();
      const current: CallGuard = {
        service: service.name,
        epoch: desired.epoch,
        token: lease.token,
        once: action.once !== undefined,
        check: async () => {
          current.provenAt = await fence.check();
          record();
        },
        attempts: [],
      };
      guard = current;
      inFlight = action;
      results.push(
        await withCallGuard(current, () => capability.execute(action, { service, epoch: desired.epoch })),
      );
      record();
      inFlight = undefined;
      // The grace in which AWS may not show the call yet counts from when it returned, not from the
      // record: the run may have waited between the two (an SDK backoff, the rate-limit sleep).
      if (action.once !== undefined) intents[intendedAtKey(action.once)] = cp.clock.now().toISOString();
    }
  } catch (error) {
    const failure = classify(capabilityName, error);
    if (failure instanceof SupersededError) {
      // Stopped by the fence inside the action (its first call, an SDK retry, a sleep): nothing more
      // for this epoch.
      const detail = failure.message.replace(/ dropped: /, ` dropped${done}: `);
      cp.log.info(detail, { ...base });
      return { ...base, phase: 'superseded', detail, plan };
    }
    cp.log.warn('reconcile step failed', { ...base, error: failure.message, retryable: failure.retryable });
    // A once-per-epoch call that provably never took effect (refused, or stopped before it left) is
    // no longer intended: the next run issues it again without waiting.
    if (inFlight?.once !== undefined && guard && !mayHaveTakenEffect(guard.attempts)) {
      const { [inFlight.once]: _epoch, [intendedAtKey(inFlight.once)]: _at, ...rest } = pending ?? {};
      pending = Object.keys(rest).length > 0 ? rest : undefined;
    } else if (inFlight?.once !== undefined) {
      // It may have taken effect: the grace counts from now, when its outcome became unknown.
      pending = { ...pending, [intendedAtKey(inFlight.once)]: cp.clock.now().toISOString() };
    }
    const detail = failureDetail(failure);
    const kept = pending;
    return recordFailure(cp, base, detail, () => settle('failed', detail, { pending: kept }));
  }
  const outcome = combineResults(results);
  if (outcome.verified) return { ...(await settle('converged', `${plan.detail}: ${outcome.detail}`)), plan };
  // Once-per-epoch records stay until the capability converges (the planner still needs them while
  // AWS may not show the call yet); other bookkeeping is what the actions just returned.
  const kept = intentRecords(pending);
  const after =
    Object.keys(kept).length > 0 || outcome.pending ? { ...kept, ...intents, ...outcome.pending } : undefined;
  return {
    ...(await settle('waiting', `${plan.detail}: ${outcome.detail}`, { pending: after, code: plan.code })),
    plan,
  };
};

/**
 * Records a once-per-epoch intent under the fence, in one round trip: written only while the epoch is
 * current and the lease this run's with LEASE_RENEW_BELOW_MS left, and its commit is the proof the
 * call's first check takes. When the fence did not hold, a fence read says why (SupersededError) or
 * renews a lease running short, and the write is tried once more. False: a newer status is stored.
 */
const recordIntent = async (
  cp: ControlPlane,
  service: string,
  intent: CapabilityStatus,
  lease: Lease,
  fence: PlanFence,
): Promise<boolean> => {
  for (let attempt = 0; ; attempt++) {
    const at = cp.clock.now().getTime();
    const outcome = await cp.store.writeFencedStatus(service, intent, {
      lease,
      leaseLeftUntil: at + LEASE_RENEW_BELOW_MS,
    });
    if (outcome === 'written') {
      fence.prove({ epoch: intent.epoch, token: lease.token, at });
      return true;
    }
    if (outcome === 'newer-status') return false;
    await checkFence(cp, lease, intent.epoch);
    if (attempt > 0) {
      throw new SupersededError(
        `plan for epoch ${intent.epoch} dropped: the fence held on reading but not on writing the intent`,
      );
    }
  }
};

/** When this epoch's decision moved the capability; undefined when this epoch did not move it. */
const movedAt = (desired: ServiceRecord['desired'], capability: CapabilityName): string | undefined => {
  const intent = desired.capabilities[capability];
  return desired.epoch > 0 && intent?.epoch === desired.epoch ? intent.changedAt : undefined;
};

/**
 * The engine metrics of a status that is news (what the audit log records, so a refusal or failure
 * repeated unchanged by later runs counts once): a refusal, a failure, or a convergence with the
 * seconds since the decision that moved the capability.
 */
const countSettled = (
  cp: ControlPlane,
  capability: CapabilityName,
  phase: Phase,
  changedAt: string | undefined,
): void => {
  if (phase === 'refused') cp.metrics?.count(ENGINE_METRICS.refusals, capability);
  else if (phase === 'failed') cp.metrics?.count(ENGINE_METRICS.failures, capability);
  else if (phase === 'converged' && changedAt !== undefined) {
    const seconds = (cp.clock.now().getTime() - Date.parse(changedAt)) / 1000;
    cp.metrics?.seconds(ENGINE_METRICS.secondsToConverge, capability, seconds);
  }
};

/** The once-per-epoch records in a status' bookkeeping (each key with its time). */
const intentRecords = (pending: Readonly<Record<string, string>> = {}): Record<string, string> => {
  const records: Record<string, string> = {};
  for (const [key, value] of Object.entries(pending)) {
    if (isIntentKey(pending, key)) {
      records[key] = value;
      records[intendedAtKey(key)] = pending[intendedAtKey(key)] ?? '';
    }
  }
  return records;
};

/** Records a failure; if even that fails, says so and still reports the failure. */
const recordFailure = async (
  cp: ControlPlane,
  base: Pick<CapabilityReport, 'service' | 'capability' | 'epoch'>,
  detail: string,
  settle: () => Promise<CapabilityReport>,
): Promise<CapabilityReport> => {
  try {
    return await settle();
  } catch (statusError) {
    cp.log.error('could not record the failure either', { error: String(statusError) });
    return { ...base, phase: 'failed', detail };
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

export interface ServiceReconcileOptions {
  readonly dryRun?: boolean;
  /** The service as the caller read it (saves a read); `recordReadAt`: when, just before the read. */
  readonly record?: ServiceRecord;
  readonly recordReadAt?: Date | undefined;
  /**
   * The lease taken together with the transition that produced `record` (writeTransitionLeased), and
   * the assessments made from that record beside the write: nobody held the service between the read
   * and the lease, so they stand and nothing is read or taken again.
   */
  readonly leased?: {
    readonly lease: Lease;
    readonly assessed: ReadonlyMap<CapabilityName, Assessment>;
    /** What the transaction proved (epoch and lease, when): the first fence of each capability. */
    readonly proof?: FenceProof | undefined;
  };
}

/** The report for a capability that needs nothing written (or a deferred one when it does). */
const restingReport = (
  record: ServiceRecord,
  service: ServiceConfig,
  capability: CapabilityName,
  a: Assessment,
  busy: string | undefined,
): CapabilityReport => {
  const base = { service: service.name, capability, epoch: record.desired.epoch };
  if (busy !== undefined && needsWrite(record, capability, a))
    return { ...base, phase: 'deferred', detail: busy };
  if (a.kind === 'missing') {
    return {
      ...base,
      phase: 'failed',
      detail: `no ${capability} capability is installed in this control plane`,
    };
  }
  const resting = restingOf(a, record.statuses[capability]);
  return {
    ...base,
    phase: resting?.phase ?? 'deferred',
    detail: resting?.detail ?? busy ?? '',
    ...(a.kind === 'planned' && { plan: a.plan }),
  };
};

/**
 * Reconciles the given capabilities of one service in parallel, from one consistent read.
 *
 * First without the lease, reading only: if every capability is converged or unchanged, nothing is
 * written (an idle run only reads). Otherwise the run takes the service's lease; if nobody held it
 * since the read, the plans just made stand, else everything is read and planned again under it. A
 * run that cannot take the lease does nothing and asks the holder for a round (reported `deferred`).
 */
export const reconcileService = async (
  cp: ControlPlane,
  service: ServiceConfig,
  capabilities: readonly CapabilityName[] = capabilitiesOf(service, cp.modules),
  options: ServiceReconcileOptions = {},
): Promise<CapabilityReport[]> => {
  const dryRun = options.dryRun ?? service.mode === 'dry-run';
  const readAt = options.record ? options.recordReadAt : cp.clock.now();
  const record = options.record ?? (await cp.store.readService(service.name));
  if (dryRun) {
    return Promise.all(
      capabilities.map((c) => reconcileCapability(cp, service, record, c, { dryRun: true })),
    );
  }
  const assessed =
    options.leased?.assessed ??
    new Map(
      await Promise.all(
        capabilities.map(async (c) => [c, await assessCapability(cp, service, record, c)] as const),
      ),
    );
  if (!options.leased && ![...assessed].some(([c, a]) => needsWrite(record, c, a))) {
    return [...assessed].map(([c, a]) => restingReport(record, service, c, a, undefined));
  }

  const all = capabilitiesOf(service, cp.modules);
  const leased = await withServiceLease(
    cp,
    service,
    async (lease, round) => {
      const own = round.index === 0 && !round.wanted;
      // The plans made before taking the lease stand only if nobody held the service since the read.
      const unchanged =
        own && (options.leased?.lease.token === lease.token || leaseUntouchedSince(record, readAt, lease));
      const current = unchanged ? record : await cp.store.readService(service.name);
      const scope = own ? capabilities : all;
      return Promise.all(
        scope.map((c) =>
          reconcileCapability(cp, service, current, c, {
            dryRun: false,
            lease,
            assessment: unchanged ? assessed.get(c) : undefined,
            proof: round.index === 0 ? options.leased?.proof : undefined,
          }),
        ),
      );
    },
    options.leased?.lease,
  );
  if (leased.kind === 'busy') {
    const holder = leased.holder;
    const busy =
      `another run holds ${service.name}` +
      (holder ? ` (lease token ${holder.token} until ${new Date(holder.until).toISOString()})` : '') +
      ': it was asked to take this step';
    return [...assessed].map(([c, a]) => restingReport(record, service, c, a, busy));
  }
  // The latest report of each capability asked about, from whichever round made it.
  const latest = new Map<CapabilityName, CapabilityReport>();
  for (const round of leased.results) for (const report of round) latest.set(report.capability, report);
  // A transition whose last capability converged in this run: measure its recovery (once).
  await recordRecovery(cp, service);
  return capabilities.flatMap((c) => {
    const report = latest.get(c);
    return report ? [report] : [];
  });
};

/**
 * True when no run held the service between the caller's read and this acquisition: the lease was
 * free at the read and this acquisition's token is the next one. Then nobody acted since, so the
 * statuses and plans from that read are current.
 */
const leaseUntouchedSince = (record: ServiceRecord, readAt: Date | undefined, lease: Lease): boolean => {
  if (readAt === undefined) return false;
  const seen = record.lease;
  if (seen === undefined) return lease.token === 1;
  return seen.until <= readAt.getTime() && lease.token === seen.token + 1;
};

/**
 * One service's scheduled step: with `alarmStates`, a service that opted into automatic failback may
 * first be moved back to the primary (functions/engine/auto-failback.ts); any error there is logged
 * and the reconcile still runs. Throws when the service could not be reconciled (e.g. the state table
 * is unreachable): the caller decides what a failure means (reconcileAll logs it; a fan-out worker
 * hands the message back to its queue).
 */
/**
 * The scheduled run's catch-up of alarms whose events were never acted on (injected:
 * functions/trigger/missed-alarms.ts builds on the trigger, which builds on this engine).
 */
export type MissedAlarmCatchUp = ScheduledAlarmCheck<
  readonly {
    readonly kind: string;
    readonly changed?: readonly CapabilityName[];
    readonly reports?: readonly CapabilityReport[];
  }[]
>;

export interface ScheduledRunOptions {
  readonly alarmStates?: AlarmStateReader | undefined;
  readonly missedAlarms?: MissedAlarmCatchUp | undefined;
}

export const reconcileScheduled = async (
  cp: ControlPlane,
  service: ServiceConfig,
  options: ScheduledRunOptions = {},
  /** The service as the caller has just read it (a worker's batch read): not read again. */
  known?: { readonly record: ServiceRecord; readonly readAt: Date },
): Promise<CapabilityReport[]> => {
  let readAt = known?.readAt ?? cp.clock.now();
  let record = known?.record ?? (await cp.store.readService(service.name));
  // The transition reconciled what it moved; re-read so this run sees the new epoch and statuses.
  const reread = async () => {
    readAt = cp.clock.now();
    record = await cp.store.readService(service.name);
  };
  if (options.missedAlarms !== undefined && options.alarmStates !== undefined) {
    try {
      const outcomes = await options.missedAlarms(cp, service, record, options.alarmStates, readAt);
      const moved = outcomes.filter((o) => o.kind === 'transitioned');
      // A transition reconciles what it moved: when that is every capability (and no automatic
      // failback may follow), a second reconcile would only read it all again.
      const all = capabilitiesOf(service, cp.modules);
      if (
        service.autoFailback === undefined &&
        all.every((c) =>
          moved.some((o) => o.changed?.includes(c) && o.reports?.some((r) => r.capability === c)),
        )
      ) {
        const latest = new Map(moved.flatMap((o) => o.reports ?? []).map((r) => [r.capability, r] as const));
        return [...latest.values()];
      }
      if (moved.length > 0) await reread();
    } catch (error) {
      cp.log.error('missed-alarm check failed; reconciling as usual', {
        service: service.name,
        error: classifyAwsError(`missed alarms ${service.name}`, error).message,
      });
    }
  }
  if (service.autoFailback !== undefined && options.alarmStates !== undefined) {
    try {
      const outcome = await autoFailback(cp, service, record, options.alarmStates);
      if (outcome?.kind === 'transitioned') await reread();
    } catch (error) {
      cp.log.error('automatic failback check failed; reconciling as usual', {
        service: service.name,
        error: classifyAwsError(`auto-failback ${service.name}`, error).message,
      });
    }
  }
  return reconcileService(cp, service, undefined, { record, recordReadAt: readAt });
};

/**
 * Every service, one after another, in one process (the CLI and local runs; the deployed schedule
 * fans out to parallel workers instead, functions/engine/fan-out.ts), so Route 53's request budget
 * is never spent at once. See reconcileScheduled for automatic failback.
 */
export const reconcileAll = async (
  cp: ControlPlane,
  options: ScheduledRunOptions = {},
): Promise<CapabilityReport[]> => {
  const reports: CapabilityReport[] = [];
  const run: ScheduledRunOptions = {
    ...options,
    alarmStates:
      options.alarmStates && alarmStatesOfBatch(options.alarmStates, cp.config, cp.config.services),
  };
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
      reports.push(...(await reconcileScheduled(cp, service, run)));
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
