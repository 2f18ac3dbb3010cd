/**
 * One Route 53 budget for the whole account, as arithmetic: Route 53 allows 5 requests per second
 * per AWS account, for every API and every caller together (throttled beyond that). Every process
 * of the control plane spaces its own requests (functions/runtime/request-budget.ts, mutating calls
 * first), and the stack bounds how many such processes can run at once; so the account's rate is
 * at most the sum, over the functions, of (most concurrent processes x each one's rate):
 *
 *   reconcile workers   2 (SQS event source maxConcurrency, AWS's minimum) x 1    req/s = 2
 *   alarm function      4 (reserved concurrency)                           x 0.5  req/s = 2
 *   resource events     each reserved concurrency 1; 0.5 req/s shared by all of them  = 0.5
 *   operator CLI        1 process                                          x 0.25 req/s = 0.25
 *   readiness function  1 (reserved concurrency)                           x 0.1  req/s = 0.1
 *                                                                                     = 4.85 req/s
 *
 * 0.15 req/s stay for the console and any other tool in the account. Readiness reads health checks
 * from their metric first and each hosted zone once per check, so its small share is enough. The dispatcher calls no Route 53.
 * A test (test/unit/route53-shares.test.ts) holds the sum under the account rate; the stack reads
 * concurrency and rates from here, so the deployed numbers are these numbers.
 */

/** Route 53's documented rate: requests per second per account, all APIs and callers together. */
export const ROUTE53_ACCOUNT_RATE = 5;

export interface Route53Share {
  /** The most processes of this kind the stack lets run at once. */
  readonly concurrency: number;
  /** Requests per second each of them may send. */
  readonly perSecond: number;
}

/** Each function's share; `events` is shared by all resource-event functions together. */
export const ROUTE53_SHARES = {
  worker: { concurrency: 2, perSecond: 1 },
  alarm: { concurrency: 4, perSecond: 0.5 },
  events: { concurrency: 1, perSecond: 0.5 },
  cli: { concurrency: 1, perSecond: 0.25 },
  readiness: { concurrency: 1, perSecond: 0.1 },
} as const satisfies Record<string, Route53Share>;

/** The share of one of `count` resource-event functions: each runs alone, the rate split evenly. */
export const eventFunctionShare = (count: number): Route53Share => ({
  concurrency: ROUTE53_SHARES.events.concurrency,
  perSecond: ROUTE53_SHARES.events.perSecond / Math.max(1, count),
});

/** The account-wide rate the shares allow at most, with `eventFunctions` resource-event functions. */
export const route53AccountRate = (eventFunctions: number): number => {
  const { worker, alarm, cli, readiness } = ROUTE53_SHARES;
  const events = eventFunctionShare(eventFunctions);
  return (
    worker.concurrency * worker.perSecond +
    alarm.concurrency * alarm.perSecond +
    eventFunctions * events.concurrency * events.perSecond +
    cli.concurrency * cli.perSecond +
    readiness.concurrency * readiness.perSecond
  );
};

/** The environment variable that tells a Lambda function its per-process rate (the stack sets it). */
export const ROUTE53_PER_SECOND_ENV = 'UNDERSTUDY_ROUTE53_PER_SECOND';
