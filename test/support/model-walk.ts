/**
 * The concurrency model walk (issue 9): a seeded random walk of interleaved control-plane runs
 * against the simulated AWS (model-aws.ts), through the real engine, transition logic, planners and
 * executors. Every fake round trip (a state-table operation, an AWS call, an SDK backoff, an SMTP
 * answer) is a point where the walk chooses which run goes on next, so any interleaving of runs can
 * happen; a run can also be abandoned at any such point (a crash), and Lambda runs die at 60 s.
 *
 * One step is one of: resume one waiting run by one round trip; deliver an alarm event (copies,
 * late, reordered); start a scheduled run, a resource-event run or an operator's command (failover
 * or failback, with or without acceptDataLoss, replace); change the world (a site falls sick or
 * recovers, the replica lags, mail arrives, an operator deletes a stale database copy); advance the
 * clock; crash a run. Faults are injected per AWS attempt (throttling, 5xx, lost answers) and per
 * state-table operation. After every step the walk checks the rules; see `checkStep`.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { mailCapability } from '../../functions/capabilities/mail/capability';
import type { MailStore } from '../../functions/capabilities/mail/store';
import { CAPABILITY_MODULES } from '../../functions/capabilities/registry';
import {
  type CapabilityName,
  type Config,
  parseConfig,
  type ServiceConfig,
} from '../../functions/config/schema';
import type { Clock } from '../../functions/core/clock';
import { silentLog } from '../../functions/core/log';
import type { TransitionRequest } from '../../functions/core/types';
import type { AlarmStateReader } from '../../functions/engine/auto-failback';
import type { Capability } from '../../functions/engine/capability';
import { type ControlPlane, reconcileAll } from '../../functions/engine/engine';
import { LEASE_MS } from '../../functions/engine/lease';
import { Reporter } from '../../functions/engine/reporter';
import { handleResourceEvent } from '../../functions/engine/resource-event';
import { requestTransition } from '../../functions/engine/transition';
import type { Notifier } from '../../functions/notify/slack';
import type { ClientKit } from '../../functions/runtime/client-kit';
import { capabilitySource } from '../../functions/runtime/control-plane';
import { loadRoute53Sdk, newRunScope } from '../../functions/runtime/zone-records';
import type { AuditEntry } from '../../functions/state/store';
import { handleAlarmEvent } from '../../functions/trigger/handle-alarm';
import { catchUpMissedAlarms } from '../../functions/trigger/missed-alarms';
import { FakeStore, type StoreOp } from '../unit/fixtures';
import {
  type CallerView,
  DB_PRIMARY,
  DB_REPLICA,
  HC_PRIMARY,
  HC_STANDBY,
  PRIMARIES,
  type Rng,
  SimAws,
  STANDBYS,
  TG,
  type Violation,
} from './model-aws';

/** sfc32: small, fast, seedable. */
export const seededRng = (seed: number): Rng => {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0;
    b >>>= 0;
    c >>>= 0;
    d >>>= 0;
    let t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    t = (t + d) | 0;
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    pick: (items) => items[Math.floor(next() * items.length)] as (typeof items)[number],
    chance: (p) => next() < p,
  };
};

const ALARM = 'shop-primary-unhealthy';
const MAIL_ALARM = 'shop-mail-primary-unreachable';
const ACCOUNT = '111111111111';
const REGION = 'eu-west-2';

const modelConfig = (cooldownMinutes: number, mode: 'auto' | 'approve'): Config =>
  parseConfig({
    controlPlane: {
      account: ACCOUNT,
      region: REGION,
      stateTableName: 'understudy-state',
      maxEventAgeSeconds: 600,
    },
    services: [
      {
        name: 'shop',
        mode,
        cooldownMinutes,
        alarms: [{ name: ALARM }],
        dns: {
          hostedZoneId: 'ZSHOP',
          records: [
            {
              name: 'www.shop.example.com',
              type: 'A',
              routing: 'weighted',
              ttl: 60,
              primary: { values: ['192.0.2.10'], healthCheckId: HC_PRIMARY },
              standby: { values: ['198.51.100.10'], healthCheckId: HC_STANDBY },
            },
          ],
        },
        database: {
          kind: 'rds-replica',
          primaryInstanceId: DB_PRIMARY,
          replicaInstanceId: DB_REPLICA,
          endpoint: { hostedZoneId: 'ZINTERNAL', name: 'db.shop.internal', ttl: 30 },
          maxReplicaLagSeconds: 30,
        },
        compute: {
          targetGroupArns: [TG],
          primaries: { instanceIds: PRIMARIES },
          standbys: { instanceIds: STANDBYS },
          minHealthyTargets: 1,
          stopStandbysOnFailback: true,
        },
      },
      {
        name: 'shop-mail',
        mode: 'auto',
        alarms: [{ name: MAIL_ALARM }],
        mail: {
          domain: 'shop.example.com',
          hostedZoneId: 'ZSHOP',
          primary: { host: 'mx1.shop.example.com', port: 25, tls: 'none' },
          retentionDays: 1,
        },
      },
    ],
  });

/** One control-plane run in the walk: a Lambda invocation or an operator's CLI command. */
interface Run extends CallerView {
  readonly startedAt: number;
  readonly lambda: boolean;
  readonly waiting: (() => void)[];
  done: boolean;
  dead: boolean;
}

interface QueuedEvent {
  readonly event: unknown;
  readonly at: number;
  readonly label: string;
}

export interface WalkReport {
  readonly steps: number;
  readonly runs: Record<string, number>;
  readonly crashes: number;
  readonly timeouts: number;
  readonly completed: number;
  readonly counts: SimAws['counts'];
  readonly byApi: Record<string, number>;
  readonly storeFaults: number;
  readonly held: number;
  readonly epochs: number;
}

export class ModelFailure extends Error {}

/**
 * One walk: a fresh world and state table, `steps` steps, then a heal phase (no faults, a healthy
 * world, scheduled runs) after which everything must have converged and every lease be free.
 */
export const walk = async (seed: number, steps: number): Promise<WalkReport> => {
  const rng = seededRng(seed);
  const runs = new AsyncLocalStorage<Run>();
  const all: Run[] = [];
  let runSeq = 0;
  let idSeq = 0;
  const trace: string[] = [];
  const note = (line: string) => {
    trace.push(line);
    if (trace.length > (process.env.UNDERSTUDY_MODEL_DEBUG ? 100_000 : 60)) trace.shift();
  };

  /** A round trip: the current run waits until the walk lets it go on. Outside any run: at once. */
  const tick = (): Promise<void> => {
    const run = runs.getStore();
    if (!run) return Promise.resolve();
    if (run.dead) return new Promise(() => undefined);
    return new Promise((resolve) => run.waiting.push(resolve));
  };

  const store = new FakeStore(tick);
  store.keepAudit = false;
  const sim = new SimAws(rng, tick, store, () => runs.getStore());
  if (process.env.UNDERSTUDY_MODEL_DEBUG) sim.trace = (line) => note(`${line} [#${runs.getStore()?.id}]`);
  const config = modelConfig(rng.pick([0, 5, 30]), rng.chance(0.1) ? 'approve' : 'auto');
  const shop = config.services[0] as ServiceConfig;
  const mailService = config.services[1] as ServiceConfig;

  // Faults of the state table: not applied, or applied with the answer lost (after the SDK's retries).
  let storeFaultRate = 0.01;
  let storeFaults = 0;
  const storeFault = (op: StoreOp, after: boolean) => {
    if (op === 'appendAudit' || !runs.getStore() || !rng.chance(storeFaultRate / 2)) return;
    storeFaults++;
    throw Object.assign(new Error(after ? 'answer lost' : 'throttled'), {
      name: after ? 'InternalServerError' : 'ProvisionedThroughputExceededException',
      $metadata: { httpStatusCode: after ? 500 : 400 },
    });
  };
  store.beforeOp = (op) => storeFault(op, false);
  store.afterOp = (op) => storeFault(op, true);

  const clock: Clock = {
    now: () => new Date(sim.now),
    // A sleep inside a run (the Route 53 verify) lets other runs go on; world time moves by steps.
    sleep: () => tick(),
  };
  const kit: ClientKit = {
    region: REGION,
    client: (type) => sim.client((type as { name: string }).name) as never,
  };
  const mail = mailCapability(
    {
      s3: sim.client('S3Client') as never,
      ses: sim.client('SESClient') as never,
      store: sim.mailStore() as unknown as MailStore,
      clock,
      log: silentLog,
      newId: () => `run-${++idSeq}`,
    },
    {
      stackName: 'understudy',
      smtp: sim.smtp(),
      elapsed: () => sim.now,
      limits: { maxMessagesPerRun: 5, maxBytesPerRun: 1e6, maxPurgesPerRun: 5 },
    },
  );
  const others = capabilitySource(CAPABILITY_MODULES, {
    config,
    clients: kit,
    clock,
    log: silentLog,
    newId: () => `id-${++idSeq}`,
    changeVerify: { verifyAttempts: 2, verifyIntervalMs: 0 },
    // Interleaved invocations share no reads: each asks Route 53 afresh, the strictest case.
    run: () => newRunScope(kit),
  });
  // Created before the walk: a module's first import resolves on real I/O, which no step may wait for.
  const created = new Map<CapabilityName, Capability | undefined>();
  for (const name of ['dns', 'database', 'compute'] as const) created.set(name, await others(name));
  await loadRoute53Sdk();
  created.set('mail', mail as unknown as Capability);
  const capability = (name: CapabilityName): Promise<Capability | undefined> =>
    Promise.resolve(created.get(name));

  // Slack: "held" must be told at most once per state change of an alarm.
  const heldTold = new Map<string, number>();
  let held = 0;
  const notifier: Notifier = {
    notify: async (entry: AuditEntry) => {
      if (entry.kind !== 'held') return;
      held++;
      const key = `${entry.source} ${String(entry.details?.alarmStateAt)}`;
      heldTold.set(key, (heldTold.get(key) ?? 0) + 1);
    },
  };

  const controlPlane = (kind: string, lambda: boolean): ControlPlane => ({
    config,
    modules: CAPABILITY_MODULES,
    store,
    capability,
    reporter: new Reporter(store, notifier, silentLog),
    clock,
    log: silentLog,
    deadline: lambda ? new Date(sim.now + 45_000) : undefined,
    newId: () => `${kind}-${++idSeq}`,
    runName: kind,
  });

  const runCounts: Record<string, number> = {};
  let crashes = 0;
  let timeouts = 0;
  let completed = 0;

  const start = (kind: string, lambda: boolean, work: (cp: ControlPlane) => Promise<unknown>) => {
    const run: Run = {
      id: ++runSeq,
      kind,
      startedAt: sim.now,
      lambda,
      waiting: [],
      done: false,
      dead: false,
      healthSeen: new Map(),
      targetsSeen: undefined,
    };
    all.push(run);
    runCounts[kind] = (runCounts[kind] ?? 0) + 1;
    note(`start #${run.id} ${kind}`);
    const cp = controlPlane(kind, lambda);
    runs.run(run, () => {
      const settled = work(cp).then(
        (result) => {
          if (process.env.UNDERSTUDY_MODEL_DEBUG)
            note(
              `done #${run.id} ${kind}: ${JSON.stringify(result, (k, v) => (k === 'plan' ? undefined : v)).slice(0, 400)}`,
            );
          return cp.reporter.flush();
        },
        (error: unknown) => {
          if (process.env.UNDERSTUDY_MODEL_DEBUG)
            note(`failed #${run.id} ${kind}: ${String(error).slice(0, 300)}`);
          return cp.reporter.flush();
        },
      );
      void settled.then(() => {
        run.done = true;
        completed++;
      });
    });
  };

  // Alarm events: each state change is delivered one to three times, some late, in any order.
  const queue: QueuedEvent[] = [];
  const alarmState = new Map<string, 'OK' | 'ALARM'>([
    [ALARM, 'OK'],
    [MAIL_ALARM, 'OK'],
  ]);
  const alarmChangedAt = new Map<string, number>();
  /** CloudWatch's view of the alarms (DescribeAlarms), for the schedule's catch-up of missed events. */
  const alarmStates: AlarmStateReader = async (region, names) =>
    names.flatMap((name) => {
      const state = alarmState.get(name);
      return state === undefined
        ? []
        : [{ name, region, state, stateUpdatedAt: new Date(alarmChangedAt.get(name) ?? 0) }];
    });
  const scheduledRun = (cp: ControlPlane) =>
    reconcileAll(cp, { alarmStates, missedAlarms: catchUpMissedAlarms });
  const changeAlarm = (name: string, value: 'OK' | 'ALARM') => {
    if (alarmState.get(name) === value) return;
    const previous = alarmState.get(name) ?? 'OK';
    alarmState.set(name, value);
    alarmChangedAt.set(name, sim.now);
    const at = new Date(sim.now).toISOString();
    const event = {
      version: '0',
      id: `event-${++idSeq}`,
      'detail-type': 'CloudWatch Alarm State Change',
      source: 'aws.cloudwatch',
      account: ACCOUNT,
      time: at.replace(/\.\d{3}Z$/, 'Z'),
      region: REGION,
      resources: [`arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${name}`],
      detail: {
        alarmName: name,
        state: { value, reason: 'Threshold Crossed', timestamp: at.replace('Z', '+0000') },
        previousState: { value: previous, reason: 'Threshold Crossed', timestamp: at.replace('Z', '+0000') },
      },
    };
    const copies = rng.chance(0.35) ? rng.int(2, 3) : 1;
    for (let i = 0; i < copies; i++) {
      const delay = rng.chance(0.15) ? rng.int(60, 540) * 1000 : rng.int(0, 15) * 1000;
      queue.push({ event, at: sim.now + delay, label: `${name} ${value} @${at}` });
    }
  };

  const operatorRequest = (target: 'primary' | 'standby', dataLoss: boolean): TransitionRequest => ({
    service: 'shop',
    capabilities: rng.chance(0.7)
      ? ['dns', 'database', 'compute']
      : [rng.pick(['dns', 'database', 'compute'] as const)],
    target,
    requestedBy: 'operator:alice',
    reason: `operator alice asked to ${target === 'standby' ? 'fail over' : 'fail back'}`,
    ignoreCooldown: true,
    ...(dataLoss && { params: { acceptDataLoss: true } }),
  });

  // ---- the rules after every step ----------------------------------------------------------------

  const statusSeen = new Map<string, [number, number]>();
  const evidenceSeen = new Map<string, string>();
  const fail = (step: number, violations: readonly Violation[]) => {
    throw new ModelFailure(
      `seed ${seed}, step ${step}: ${violations.map((v) => `[${v.rule}] ${v.detail}`).join('; ')}\n` +
        `last steps:\n  ${trace.join('\n  ')}`,
    );
  };
  const checkStep = (step: number) => {
    if (sim.activeTargets() === 0) sim.violation('target group', 'the target group has no target at all');
    const side = sim.servingSide();
    if (side === 'none' || side === 'both')
      sim.violation('weighted pair', `the weighted pair has ${side} side(s) on`);
    for (const [service, statuses] of store.statuses) {
      for (const status of Object.values(statuses)) {
        if (!status) continue;
        const key = `${service}/${status.capability}`;
        const now: [number, number] = [status.epoch, status.leaseToken ?? 0];
        const before = statusSeen.get(key);
        if (before && (now[0] < before[0] || (now[0] === before[0] && now[1] < before[1]))) {
          sim.violation(
            'status',
            `${key} went from epoch ${before[0]}/token ${before[1]} back to ${now[0]}/${now[1]}`,
          );
        }
        statusSeen.set(key, now);
      }
    }
    // Intent evidence never goes backwards: a late or repeated event never overrides newer evidence.
    for (const [service, state] of store.desired) {
      for (const [capability, intent] of Object.entries(state.capabilities)) {
        const key = `${service}/${capability}`;
        const evidence = intent?.evidenceAt ?? intent?.changedAt ?? '';
        const before = evidenceSeen.get(key) ?? '';
        if (evidence < before) {
          sim.violation(
            'event order',
            `${key} changed on evidence of ${evidence}, older than ${before} (${state.requestedBy}, epoch ${state.epoch})`,
          );
        }
        if (evidence > before) evidenceSeen.set(key, evidence);
      }
    }
    for (const [key, count] of heldTold) {
      if (count > 1) sim.violation('held', `"held" told ${count} times for ${key}`);
    }
    if (sim.violations.length > 0) fail(step, sim.violations);
  };

  // ---- the steps -----------------------------------------------------------------------------------

  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  const alive = () => all.filter((r) => !r.done && !r.dead);
  const killTimedOut = () => {
    for (const run of alive()) {
      if (run.lambda && sim.now - run.startedAt >= 60_000) {
        run.dead = true;
        run.waiting.length = 0;
        timeouts++;
        note(`timeout #${run.id} ${run.kind}`);
      }
    }
  };
  const resumeOne = (): boolean => {
    const ready = alive().filter((r) => r.waiting.length > 0);
    if (ready.length === 0) return false;
    const run = rng.pick(ready);
    const [resume] = run.waiting.splice(rng.int(0, run.waiting.length - 1), 1);
    resume?.();
    return true;
  };

  type Action =
    | 'resume'
    | 'tick'
    | 'leap'
    | 'deliver'
    | 'schedule'
    | 'resource'
    | 'operator'
    | 'world'
    | 'crash';
  /**
   * What a step does, by weight. While runs are in flight they mostly go on, and little time passes
   * (a run takes seconds); with none in flight, time passes in larger leaps (the world moves on
   * between runs). At most five runs at once.
   */
  const weights = (busy: number): [Action, number][] =>
    busy >= 5
      ? [
          ['resume', 95],
          ['tick', 5],
        ]
      : [
          ['resume', busy > 0 ? 60 : 0],
          ['tick', busy > 0 ? 4 : 0],
          // Rarely, time leaps while runs are in flight: a stalled call; Lambda runs die at 60 s, a CLI
          // run lives on and must find out at its next fence that its lease was taken meanwhile.
          ['leap', busy > 0 ? 0.4 : 20],
          ['deliver', 6],
          ['schedule', 3],
          ['resource', 1.5],
          ['operator', 1.5],
          ['world', 9],
          ['crash', busy > 0 ? 0.3 : 0],
        ];
  const choose = (busy: number): Action => {
    const table = weights(busy);
    let x = rng.next() * table.reduce((sum, [, w]) => sum + w, 0);
    for (const [action, w] of table) {
      x -= w;
      if (x < 0) return action;
    }
    return 'resume';
  };

  const step = async (n: number) => {
    killTimedOut();
    switch (choose(alive().length)) {
      case 'resume':
        resumeOne();
        break;
      case 'tick':
        sim.now += rng.int(500, 3000);
        break;
      case 'leap': {
        const ms = rng.chance(0.6)
          ? rng.int(5, 20) * 1000
          : rng.chance(0.8)
            ? rng.int(20, 90) * 1000
            : rng.int(90, 300) * 1000;
        sim.now += ms;
        note(`clock +${ms / 1000} s`);
        break;
      }
      case 'deliver': {
        const ready = queue.filter((q) => q.at <= sim.now);
        const next = ready.length > 0 ? rng.pick(ready) : undefined;
        if (next) {
          queue.splice(queue.indexOf(next), 1);
          note(`deliver ${next.label}`);
          start('alarm', true, (cp) => handleAlarmEvent(cp, next.event));
        }
        break;
      }
      case 'schedule':
        start('schedule', true, scheduledRun);
        break;
      case 'resource': {
        if (rng.chance(0.5)) {
          const event = {
            version: '0',
            id: `rds-${++idSeq}`,
            'detail-type': 'RDS DB Instance Event',
            source: 'aws.rds',
            account: ACCOUNT,
            region: REGION,
            time: new Date(sim.now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            resources: [],
            detail: {
              SourceIdentifier: rng.pick([DB_PRIMARY, DB_REPLICA]),
              EventID: 'RDS-EVENT-0046',
              Message: 'Read replica promoted',
            },
          };
          start('rds-event', true, (cp) => handleResourceEvent(cp, 'database', event));
        } else {
          const id = rng.pick(STANDBYS);
          const event = {
            version: '0',
            id: `ec2-${++idSeq}`,
            'detail-type': 'EC2 Instance State-change Notification',
            source: 'aws.ec2',
            account: ACCOUNT,
            region: REGION,
            time: new Date(sim.now).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            resources: [],
            detail: { 'instance-id': id, state: 'running' },
          };
          start('ec2-event', true, (cp) => handleResourceEvent(cp, 'compute', event));
        }
        break;
      }
      case 'operator': {
        const kind = rng.pick(['failover', 'failover', 'failback', 'failback', 'replace'] as const);
        const replace = CAPABILITY_MODULES.find((m) => m.name === 'compute')?.commands?.[0];
        const request =
          kind === 'replace' && replace
            ? replace.request(shop, [rng.pick(PRIMARIES)], 'alice')
            : operatorRequest(kind === 'failover' ? 'standby' : 'primary', rng.chance(0.4));
        start(`cli-${kind}`, false, (cp) => requestTransition(cp, shop, request));
        break;
      }
      case 'world': {
        const w = rng.next();
        if (w < 0.25) {
          const sick = !sim.primarySick;
          sim.setSick('primary', sick);
          changeAlarm(ALARM, sick ? 'ALARM' : 'OK');
          note(`world: primary ${sick ? 'sick' : 'recovers'}`);
        } else if (w < 0.32) {
          sim.setSick('standby', !sim.standbySick);
          note(`world: standby ${sim.standbySick ? 'sick' : 'recovers'}`);
        } else if (w < 0.47) {
          sim.mailPrimaryDown = !sim.mailPrimaryDown;
          changeAlarm(MAIL_ALARM, sim.mailPrimaryDown ? 'ALARM' : 'OK');
          note(`world: mail primary ${sim.mailPrimaryDown ? 'down' : 'up'}`);
        } else if (w < 0.75) {
          sim.receiveMail();
        } else if (w < 0.92) {
          sim.lagSeconds = rng.chance(0.7) ? rng.int(0, 10) : rng.int(31, 600);
        } else {
          const deleted = sim.deleteStaleCopy();
          if (deleted) note(`world: operator deletes the stale copy ${deleted}`);
        }
        break;
      }
      case 'crash': {
        const victims = alive();
        if (victims.length > 0) {
          const run = rng.pick(victims);
          run.dead = true;
          run.waiting.length = 0;
          crashes++;
          note(`crash #${run.id} ${run.kind}`);
        }
        break;
      }
    }
    await settle();
    checkStep(n);
  };

  for (let n = 1; n <= steps; n++) await step(n);

  // ---- heal: no faults, a healthy world; everything must converge and let go of every lease ---------
  sim.faultRate = 0;
  storeFaultRate = 0;
  for (let i = 0; i < 50_000 && resumeOne(); i++) {
    await settle();
    checkStep(steps);
  }
  for (const run of alive()) run.dead = true;
  sim.setSick('primary', false);
  sim.setSick('standby', false);
  sim.mailPrimaryDown = false;
  sim.lagSeconds = 0;
  changeAlarm(ALARM, 'OK');
  changeAlarm(MAIL_ALARM, 'OK');
  sim.now += LEASE_MS; // leases of crashed runs expire
  const settleRun = async (kind: string, work: (cp: ControlPlane) => Promise<unknown>) => {
    start(kind, true, work);
    for (let i = 0; i < 10_000 && resumeOne(); i++) await settle();
    checkStep(steps);
  };
  // The OK deliveries still queued arrive; then the schedule converges everything.
  for (const q of queue.splice(0)) {
    sim.now = Math.max(sim.now, q.at);
    await settleRun('alarm', (cp) => handleAlarmEvent(cp, q.event));
  }
  let converged = false;
  for (let round = 0; round < 40 && !converged; round++) {
    sim.now += 60_000;
    await settleRun('schedule', scheduledRun);
    const record = store.statuses.get('shop') ?? {};
    const epoch = store.desired.get('shop')?.epoch ?? 0;
    const mailRecord = store.statuses.get('shop-mail')?.mail;
    const desiredMail = store.desired.get('shop-mail')?.capabilities.mail?.active ?? 'primary';
    const outstanding = [...sim.messages.values()].filter((m) =>
      ['held', 'delivering'].includes(m.record.status),
    );
    converged =
      (['dns', 'compute'] as const).every(
        (c) => record[c]?.phase === 'converged' && record[c]?.epoch === epoch,
      ) &&
      ['converged', 'refused'].includes(record.database?.phase ?? '') &&
      mailRecord?.phase === 'converged' &&
      (desiredMail === 'standby' || outstanding.length === 0);
  }
  if (!converged) {
    const statuses = JSON.stringify(
      { shop: store.statuses.get('shop'), mail: store.statuses.get('shop-mail') },
      null,
      1,
    );
    throw new ModelFailure(
      `seed ${seed}: not converged after healing (desired ${JSON.stringify(store.desired.get('shop')?.capabilities)}):\n${statuses}\n` +
        `last steps:\n  ${trace.join('\n  ')}`,
    );
  }
  // Traffic is where the desired state says, and the database name on a writer.
  const dnsSite = store.desired.get('shop')?.capabilities.dns?.active ?? 'primary';
  if (sim.servingSide() !== dnsSite)
    fail(steps, [{ rule: 'converged', detail: `DNS serves the ${sim.servingSide()}, desired ${dnsSite}` }]);
  sim.now += LEASE_MS;
  for (const [service, lease] of store.leases) {
    if (lease.until > sim.now)
      fail(steps, [{ rule: 'lease', detail: `${service} still held by ${lease.owner} after healing` }]);
  }
  void mailService;

  if (process.env.UNDERSTUDY_MODEL_DEBUG) console.log(trace.join('\n'));
  return {
    steps,
    runs: runCounts,
    crashes,
    timeouts,
    completed,
    counts: sim.counts,
    byApi: Object.fromEntries(sim.byApi),
    storeFaults,
    held,
    epochs: store.desired.get('shop')?.epoch ?? 0,
  };
};
