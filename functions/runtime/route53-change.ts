import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Clock } from '../core/clock';
import { type AttemptOutcome, type CallGuard, currentCallGuard, withCallGuard } from '../engine/call-guard';
import { sdkErrorName } from './client-kit';
import { writeWaitMs } from './request-budget';

export interface ChangeVerify {
  /** How many GetChange reads one run makes before leaving a PENDING change to the next run. */
  readonly verifyAttempts: number;
  readonly verifyIntervalMs: number;
}

export type ChangeStatus = 'PENDING' | 'INSYNC';

export interface ChangeBatchRequest {
  readonly hostedZoneId: string;
  readonly comment: string;
  readonly changes: readonly Change[];
}

/**
 * What one ChangeResourceRecordSets request may hold (Route 53's quotas, the strictest documented):
 * 100 changes, 1,000 ResourceRecord elements (an UPSERT counts twice), 32,000 characters of values.
 */
export const ROUTE53_BATCH_LIMITS = { changes: 100, records: 1000, valueChars: 32_000 } as const;

const COMMENT_LIMIT = 256;

const sizeOf = (changes: readonly Change[]) => {
  let records = 0;
  let valueChars = 0;
  for (const change of changes) {
    const values = change.ResourceRecordSet?.ResourceRecords ?? [];
    records += Math.max(1, values.length) * (change.Action === 'UPSERT' ? 2 : 1);
    valueChars += values.reduce((sum, r) => sum + (r.Value?.length ?? 0), 0);
  }
  return { changes: changes.length, records, valueChars };
};

/** A change asked for by one action, with the guard (epoch and lease) it was asked under. */
interface Member {
  readonly batch: ChangeBatchRequest;
  readonly guard: CallGuard | undefined;
}

/** A batch being gathered for one zone while the budget holds its request back. */
interface GatheredBatch {
  readonly members: Member[];
  readonly size: { changes: number; records: number; valueChars: number };
  readonly sent: Promise<string>;
  /** The shared change's verification, per verification setting, once the batch has left. */
  readonly verified: Map<string, Promise<ChangeStatus>>;
}

/** Per client (per process), per hosted zone: the batch still open to more changes. */
const gathering = new WeakMap<Route53Client, Map<string, GatheredBatch>>();

const perClient = <V>(map: WeakMap<Route53Client, V>, route53: Route53Client, create: () => V): V => {
  let value = map.get(route53);
  if (value === undefined) {
    value = create();
    map.set(route53, value);
  }
  return value;
};

const sendBatch = async (
  route53: Route53Client,
  hostedZoneId: string,
  members: readonly ChangeBatchRequest[],
) => {
  const comment =
    members.length === 1
      ? (members[0]?.comment ?? '')
      : `${members.length} gathered: ${members.map((m) => m.comment).join('; ')}`;
  const out = await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: hostedZoneId,
      ChangeBatch: {
        Comment: comment.slice(0, COMMENT_LIMIT),
        Changes: members.flatMap((m) => [...m.changes]),
      },
    }),
  );
  return out.ChangeInfo?.Id ?? '';
};

/**
 * Sends one change batch, gathered with every other change to the same hosted zone that this
 * process asks for while its Route 53 budget would hold the request back anyway: in a Region-wide
 * failure a worker's services moving in one zone leave as one request (within Route 53's batch
 * quotas), not one each, and the account's 5 requests a second stop bounding how many services move
 * a minute. A client without a budget, or one whose next write slot is free now, sends at once,
 * alone. Route 53 applies a batch all or nothing: when a gathered batch is refused as invalid, each
 * member is sent again alone, so one bad change fails only its own service.
 */
const sendGathered = async (
  route53: Route53Client,
  batch: ChangeBatchRequest,
): Promise<{ readonly changeId: string; readonly gathered?: GatheredBatch }> => {
  const zones = perClient(gathering, route53, () => new Map<string, GatheredBatch>());
  const open = zones.get(batch.hostedZoneId);
  const size = sizeOf(batch.changes);
  const alone = async () => ({ changeId: await sendBatch(route53, batch.hostedZoneId, [batch]) });
  /** This member's answer: the gathered batch's change, or, when it did not go, its own alone. */
  const answer = async (gathered: GatheredBatch) => {
    try {
      const changeId = await gathered.sent;
      return gathered.members.length > 1 ? { changeId, gathered } : { changeId };
    } catch (error) {
      if (gathered.members.length > 1 && sendAloneAfter(error)) return alone();
      throw error;
    }
  };
  if (
    open &&
    open.size.changes + size.changes <= ROUTE53_BATCH_LIMITS.changes &&
    open.size.records + size.records <= ROUTE53_BATCH_LIMITS.records &&
    open.size.valueChars + size.valueChars <= ROUTE53_BATCH_LIMITS.valueChars
  ) {
    open.members.push({ batch, guard: currentCallGuard() });
    open.size.changes += size.changes;
    open.size.records += size.records;
    open.size.valueChars += size.valueChars;
    return answer(open);
  }
  const waitMs = writeWaitMs(route53);
  if (waitMs === 0) return alone();
  const members: Member[] = [{ batch, guard: currentCallGuard() }];
  const holder: { gathered?: GatheredBatch } = {};
  const sent = (async () => {
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    if (zones.get(batch.hostedZoneId) === holder.gathered) zones.delete(batch.hostedZoneId);
    const send = () =>
      sendBatch(
        route53,
        batch.hostedZoneId,
        members.map((m) => m.batch),
      );
    // Alone, it runs under its own guard (this is its context); gathered, under every member's.
    return members.length === 1 ? send() : withCallGuard(everyGuardOf(members), send);
  })();
  const gathered: GatheredBatch = { members, size: { ...size }, sent, verified: new Map() };
  holder.gathered = gathered;
  zones.set(batch.hostedZoneId, gathered);
  return answer(gathered);
};

/** Why a gathered batch did not go, when each member may still go alone (under its own guard). */
const BLOCKED = Symbol('a member of the gathered batch was fenced off');

/**
 * After a gathered batch failed: Route 53 refused it as invalid (all or nothing: one member's change
 * may be the cause), or one member's fence refused it. Either way it did not take effect, and each
 * member is sent again alone, so one bad change or one superseded service fails only itself.
 */
const sendAloneAfter = (error: unknown): boolean =>
  (error as { [BLOCKED]?: boolean })?.[BLOCKED] === true || sdkErrorName(error) === 'InvalidChangeBatch';

/**
 * The guard of a gathered batch: every member's fence must pass before each attempt (the call guard,
 * functions/engine/call-guard.ts, runs it at the last moment), and each attempt's outcome is recorded
 * in every member's guard.
 */
const everyGuardOf = (members: readonly Member[]): CallGuard => {
  const guards = members.flatMap((m) => (m.guard ? [m.guard] : []));
  const attempts: AttemptOutcome[] = [];
  attempts.push = (...outcomes: AttemptOutcome[]) => {
    for (const guard of guards) guard.attempts.push(...outcomes);
    return Array.prototype.push.apply(attempts, outcomes);
  };
  return {
    service: [...new Set(guards.map((g) => g.service))].join(','),
    epoch: guards[0]?.epoch ?? 0,
    token: guards[0]?.token ?? 0,
    once: guards.some((g) => g.once),
    attempts,
    async check() {
      try {
        await Promise.all(guards.map((g) => g.check()));
      } catch (error) {
        throw Object.assign(error as object, { [BLOCKED]: true });
      }
    },
  };
};

/** One change's status, as Route 53 reports it. */
export const readChange = async (route53: Route53Client, id: string): Promise<ChangeStatus> => {
  const out = await route53.send(new GetChangeCommand({ Id: id }));
  return out.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING';
};

const verifyChange = async (
  route53: Route53Client,
  clock: Clock,
  changeId: string,
  verify: ChangeVerify,
): Promise<ChangeStatus> => {
  for (let attempt = 0; attempt < verify.verifyAttempts; attempt++) {
    if (attempt > 0) await clock.sleep(verify.verifyIntervalMs);
    if ((await readChange(route53, changeId)) === 'INSYNC') return 'INSYNC';
  }
  return 'PENDING';
};

/**
 * Every Route 53 write of the control plane: one change batch (gathered with others to the same zone,
 * see sendGathered), then verified within this run, bounded; a slower propagation is left PENDING
 * (with its id) for the next run to verify. `verify: false` writes without waiting (e.g. a fence that
 * a minutes-long promotion follows).
 */
export const changeRecordSets = async (
  route53: Route53Client,
  clock: Clock,
  batch: ChangeBatchRequest,
  verify: ChangeVerify | false,
): Promise<{ readonly changeId: string; readonly status: ChangeStatus }> => {
  const { changeId, gathered } = await sendGathered(route53, batch);
  if (verify === false) return { changeId, status: 'PENDING' };
  if (!gathered) return { changeId, status: await verifyChange(route53, clock, changeId, verify) };
  // The members of a gathered batch verify their shared change once, together.
  const key = `${verify.verifyAttempts}/${verify.verifyIntervalMs}`;
  let verified = gathered.verified.get(key);
  if (!verified) {
    verified = verifyChange(route53, clock, changeId, verify);
    gathered.verified.set(key, verified);
  }
  return { changeId, status: await verified };
};
