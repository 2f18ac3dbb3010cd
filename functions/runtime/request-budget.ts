import type { SdkClient } from './client-kit';

/**
 * Spaces out requests from this process to at most `perSecond`, retries included. Route 53 allows
 * 5 requests per second per account for everyone and everything in it; we keep well under that.
 */
export const withRequestBudget = <C extends Pick<SdkClient, 'middlewareStack'>>(
  client: C,
  perSecond: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): C => {
  const spacingMs = 1000 / perSecond;
  let nextSlot = 0;
  client.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      const now = Date.now();
      const slot = Math.max(now, nextSlot);
      nextSlot = slot + spacingMs;
      if (slot > now) await sleep(slot - now);
      return next(args);
    },
    { step: 'finalizeRequest', name: 'understudyRequestBudget', override: true },
  );
  return client;
};
