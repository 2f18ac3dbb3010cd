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

export const withRequestBudget = <C extends Pick<SdkClient, 'middlewareStack'>>(
  client: C,
  perSecond: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): C => {
  const spacingMs = 1000 / perSecond;
  let nextSlot = 0;
  const writes: (() => void)[] = [];
  const reads: (() => void)[] = [];
  let pumping = false;
  /** Hands out slots, one per spacing, writes first, while anyone waits. */
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (writes.length + reads.length > 0) {
        const wait = nextSlot - Date.now();
        if (wait > 0) await sleep(wait);
        const go = writes.shift() ?? reads.shift();
        nextSlot = Math.max(Date.now(), nextSlot) + spacingMs;
        go?.();
      }
    } finally {
      pumping = false;
    }
  };
  writeWaits.set(client, () => Math.max(0, nextSlot - Date.now()) + writes.length * spacingMs);
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) =>
      async (args: unknown) => {
        await new Promise<void>((go) => {
          (isMutatingCommand(context.commandName) ? writes : reads).push(go);
          void pump();
        });
        return next(args);
      },
    { step: 'finalizeRequest', name: 'understudyRequestBudget', override: true },
  );
  return client;
};
