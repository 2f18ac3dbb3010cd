import { describe, expect, it } from 'vitest';
import {
  eventFunctionShare,
  ROUTE53_ACCOUNT_RATE,
  ROUTE53_SHARES,
  route53AccountRate,
} from '../../functions/runtime/route53-shares';

describe('one Route 53 budget for the account', () => {
  it('keeps every function together under the account rate, whatever the number of event functions', () => {
    for (const eventFunctions of [0, 1, 2, 3, 10]) {
      expect(route53AccountRate(eventFunctions)).toBeLessThan(ROUTE53_ACCOUNT_RATE);
    }
  });

  it('is the arithmetic the README and route53-shares.ts state: 2 x 1 + 4 x 0.5 + 0.5 + 0.25 + 0.1', () => {
    expect(route53AccountRate(2)).toBeCloseTo(4.85);
    expect(eventFunctionShare(2)).toEqual({ concurrency: 1, perSecond: 0.25 });
  });

  it('gives the scheduled workers AWS minimum concurrency for an SQS event source (2)', () => {
    expect(ROUTE53_SHARES.worker.concurrency).toBe(2);
  });
});
