import type { SdkClient } from './client-kit';

/** True for a call that changes something (ChangeResourceRecordSets); reads are Get/List/Describe/Test. */
export const isMutatingCommand = (commandName: string | undefined): boolean =>
  !/^(Get|List|Describe|Test)/.test(commandName ?? '');

/**
 * Spaces out requests from this process to at most `perSecond`, retries included: every attempt
 * waits for a slot, and when several wait, a mutating call takes the next slot before any read
 * (among alike, first come, first served). In a Region-wide failure the DNS change that moves
 * traffic then never queues behind another service's zone read or change verification.
 * Route 53 allows 5 requests per second per account for everyone and everything in it;
 * functions/runtime/route53-shares.ts says how the processes together stay under that.
 */
/** Per budgeted client: how long a write asked for now would wait for its slot, in ms. */
const writeWaits = new WeakMap<object, () => number>();

/**
 * How long a mutating call sent now through `client` would wait for its slot (0 for a client without
 * a budget): the time functions/runtime/route53-change.ts gathers other changes to the same zone.
 */
export const writeWaitMs = (client: object): number => writeWaits.get(client)?.() ?? 0;

/** Where a budgeted request's context keeps the hook that says "this attempt leaves now". */
const LEAVING = Symbol('understudyRequestLeaving');

type Next = (args: unknown) => Promise<unknown>;
type BudgetContext = { commandName?: string; [LEAVING]?: () => void };

export const withRequestBudget = <C extends Pick<SdkClient, 'middlewareStack'>>(
  client: C,
  perSecond: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): C => {
  const spacingMs = 1000 / perSecond;
  let nextSlot = 0;
  const writes: ((left: (at: number | undefined) => void) => void)[] = [];
  const reads: ((left: (at: number | undefined) => void) => void)[] = [];
  /** When the last slot's attempt left this process (undefined: it never left, e.g. fenced off). */
  let lastLeft: Promise<number | undefined> = Promise.resolve(undefined);
  let pumping = false;
  /**
   * Hands out slots, one per spacing, writes first, while anyone waits. Spacing counts from when an
   * attempt really leaves: between its slot and its departure the call guard reads the fence (a
   * DynamoDB round trip of varying length), and slots spaced by the clock alone let two attempts
   * leave closer together than the rate, which a busy account sees as a burst over Route 53's rate.
   */
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (writes.length + reads.length > 0) {
        const leftAt = await lastLeft;
        if (leftAt !== undefined) nextSlot = Math.max(nextSlot, leftAt + spacingMs);
        const wait = nextSlot - Date.now();
        if (wait > 0) await sleep(wait);
        const go = writes.shift() ?? reads.shift();
        nextSlot = Math.max(Date.now(), nextSlot) + spacingMs;
        let left: (at: number | undefined) => void = () => undefined;
        lastLeft = new Promise((resolve) => {
          left = resolve;
        });
        go?.(left);
      }
    } finally {
      pumping = false;
    }
  };
  writeWaits.set(client, () => Math.max(0, nextSlot - Date.now()) + writes.length * spacingMs);
  client.middlewareStack.add(
    (next: Next, context: BudgetContext) => async (args: unknown) => {
      const left = await new Promise<(at: number | undefined) => void>((go) => {
        (isMutatingCommand(context.commandName) ? writes : reads).push(go);
        void pump();
      });
      context[LEAVING] = () => left(Date.now());
      try {
        return await next(args);
      } finally {
        // An attempt that never left (its fence refused it, or it failed before sending) frees the
        // next slot at once; one that left has said when, and a second resolve is a no-op.
        left(undefined);
        delete context[LEAVING];
      }
    },
    { step: 'finalizeRequest', name: 'understudyRequestBudget', override: true },
  );
  // Added after the call guard (also low priority in finalizeRequest, added when the client was
  // made), so it runs after the fence check, as the attempt is sent.
  client.middlewareStack.add(
    (next: Next, context: BudgetContext) => (args: unknown) => {
      context[LEAVING]?.();
      return next(args);
    },
    { step: 'finalizeRequest', priority: 'low', name: 'understudyRequestLeaves', override: true },
  );
  return client;
};
