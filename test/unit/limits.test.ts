import { describe, expect, it } from 'vitest';
import { compactPatterns, EVENT_PATTERN_CHARS, splitForEventPatterns } from '../../infra/limits';

/** A pattern as IAM's StringLike / ArnLike reads it (`*` any run of characters). */
const matches = (pattern: string, value: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(value);

describe('collapsing a grant list', () => {
  it('keeps a short list exact', () => {
    // Act / Assess
    expect(compactPatterns(['b', 'a', 'a'], { max: 3 })).toEqual(['a', 'b']);
  });

  it('covers every value with at most max patterns, cutting where neighbours share least', () => {
    // Prepare
    const ids = Array.from(
      { length: 1000 },
      (_, i) => `svc-${String(i).padStart(4, '0')}-db-${i % 2 ? 'a' : 'b'}`,
    );

    // Act
    const patterns = compactPatterns(ids, { max: 10 });

    // Assess
    expect(patterns.length).toBeLessThanOrEqual(10);
    expect(ids.filter((id) => !patterns.some((p) => matches(p, id)))).toEqual([]);
    expect(patterns).toEqual([
      'svc-00*',
      'svc-01*',
      'svc-02*',
      'svc-03*',
      'svc-04*',
      'svc-05*',
      'svc-06*',
      'svc-07*',
      'svc-08*',
      'svc-09*',
    ]);
    expect(patterns.every((p) => !matches(p, 'other-db'))).toBe(true);
  });

  it('shares suffixes for DNS names, and drops a pattern another covers', () => {
    // Prepare
    const names = [
      'www.a.zone0.example.com',
      'api.a.zone0.example.com',
      'www.b.zone0.example.com',
      'db.c.zone0.example.com',
    ];

    // Act
    const patterns = compactPatterns(names, { max: 2, from: 'end' });

    // Assess
    expect(patterns.length).toBeLessThanOrEqual(2);
    expect(names.filter((n) => !patterns.some((p) => matches(p, n)))).toEqual([]);
    expect(patterns.every((p) => p.startsWith('*') && p.endsWith('.zone0.example.com'))).toBe(true);
  });
});

describe('splitting an event pattern', () => {
  it('keeps each rule within the limit and loses no value', () => {
    // Prepare
    const names = Array.from(
      { length: 1000 },
      (_, i) => `svc-${String(i).padStart(4, '0')}-primary-unhealthy`,
    );
    const pattern = (group: readonly string[]) => ({
      source: ['aws.cloudwatch'],
      detail: { alarmName: group },
    });

    // Act
    const groups = splitForEventPatterns(names, pattern);

    // Assess
    expect(groups.flat()).toEqual(names);
    for (const group of groups)
      expect(JSON.stringify(pattern(group)).length).toBeLessThanOrEqual(EVENT_PATTERN_CHARS);
    expect(groups.length).toBeLessThanOrEqual(Math.ceil((names.length * 32) / 1800));
  });

  it('makes one group of an empty list', () => {
    expect(splitForEventPatterns([], (g) => g)).toEqual([[]]);
  });
});
