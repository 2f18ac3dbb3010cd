import { AsyncLocalStorage } from 'node:async_hooks';
import { RetryableError } from '../core/errors';

/**
 * The fence at the last moment: every attempt of a mutating AWS call made while the engine executes
 * an action (SDK retries and the Route 53 rate-limit sleep included) first checks that the action's
 * epoch is still current and that its run still holds the service's lease. The engine sets the guard
 * around `execute` (AsyncLocalStorage), and the client kit runs every attempt through `guardedAttempt`
 * as middleware placed after the SDK's retry and the request budget (functions/runtime/client-kit.ts),
 * so no executor needs code of its own for it.
 */

/** What one attempt of a guarded call came to. */
export type AttemptOutcome =
  /** AWS answered with success: the call took effect. */
  | 'ok'
  /** AWS refused it (HTTP 4xx, throttling included): it did not take effect. */
  | 'refused'
  /** No answer, or a 5xx: it may or may not have taken effect. */
  | 'ambiguous'
  /** The guard stopped it before it left: it did not take effect. */
  | 'blocked';

export interface CallGuard {
  readonly service: string;
  readonly epoch: number;
  /** The lease token of the run, for the record. */
  readonly token: number;
  /**
   * A side effect issued at most once per epoch (PlannedAction.once): after an attempt that took or
   * may have taken effect, no further attempt is made; the next run observes AWS instead.
   */
  readonly once: boolean;
  /** Throws SupersededError when the call must not be made any more. */
  check(): Promise<void>;
  /**
   * When the last check passed on the transition's own proof (lease.ts, FenceProof) instead of a
   * fence read: that proof's time (clock ms); undefined when it read the fence.
   */
  provenAt?: number | undefined;
  /** Every guarded attempt of the action, in order. */
  readonly attempts: AttemptOutcome[];
}

const guards = new AsyncLocalStorage<CallGuard>();

/** Runs `work` (an action's execute) with every mutating AWS attempt inside it checked by `guard`. */
export const withCallGuard = <T>(guard: CallGuard, work: () => Promise<T>): Promise<T> =>
  guards.run(guard, work);

/** The guard of the action being executed here, if any. */
export const currentCallGuard = (): CallGuard | undefined => guards.getStore();

const READ_ONLY = /^(Describe|List|Get|Head|Query|Scan|BatchGet|Select|TestEventPattern|Lookup|Search)/;

/**
 * True for calls that may change something in AWS. The control plane's own table (DynamoDB) is not
 * guarded here: its writes carry their own conditions (epoch, lease token, claims).
 */
export const isMutatingCall = (clientName: string, commandName: string): boolean =>
  !clientName.startsWith('DynamoDB') && !READ_ONLY.test(commandName.replace(/Command$/, ''));

/** 4xx: AWS refused the request, so it did not take effect; anything else may have. */
export const definitelyRefused = (error: unknown): boolean => {
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500 && status !== 408;
};

/** True when some attempt of the action took or may have taken effect. */
export const mayHaveTakenEffect = (attempts: readonly AttemptOutcome[]): boolean =>
  attempts.some((a) => a === 'ok' || a === 'ambiguous');

/** One attempt of an AWS call: fenced when it mutates inside a guarded action, and its outcome noted. */
export const guardedAttempt = async <T>(
  clientName: string,
  commandName: string,
  attempt: () => Promise<T>,
): Promise<T> => {
  const guard = guards.getStore();
  if (!guard || !isMutatingCall(clientName, commandName)) return attempt();
  if (guard.once && mayHaveTakenEffect(guard.attempts)) {
    guard.attempts.push('blocked');
    throw new RetryableError(
      `${commandName.replace(/Command$/, '')} not retried: it is issued once per epoch and an earlier attempt ` +
        'may have taken effect; the next run observes AWS to tell',
    );
  }
  try {
    await guard.check();
  } catch (error) {
    guard.attempts.push('blocked');
    throw error;
  }
  try {
    const out = await attempt();
    guard.attempts.push('ok');
    return out;
  } catch (error) {
    guard.attempts.push(definitelyRefused(error) ? 'refused' : 'ambiguous');
    throw error;
  }
};
