import { describe, expect, it } from 'vitest';
import { newestDatapoint } from '../../functions/runtime/metric-data';

describe('newestDatapoint', () => {
  it('picks the newest timestamp whatever the order, skipping missing values', () => {
    const newest = newestDatapoint({
      Timestamps: [
        new Date('2026-01-01T00:03:00Z'),
        new Date('2026-01-01T00:01:00Z'),
        new Date('2026-01-01T00:04:00Z'),
      ],
      Values: [7, 5],
    });
    // 00:04 has no value: the newest reading is 00:03's.
    expect(newest).toEqual({ at: new Date('2026-01-01T00:03:00Z'), value: 7 });
  });

  it('says nothing for a result without datapoints', () => {
    expect(newestDatapoint(undefined)).toBeUndefined();
    expect(newestDatapoint({ Timestamps: [], Values: [] })).toBeUndefined();
  });
});
