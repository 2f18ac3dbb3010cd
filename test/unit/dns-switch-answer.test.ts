import { describe, expect, it } from 'vitest';
import { routeAnswer } from '../../functions/drill/local-aws';

/**
 * The harness's stand-in for Route 53's answer (functions/drill/local-aws.ts), which the
 * switched drill and integration test assert on: Route 53's documented choice among weighted records
 * with health checks, including "if no record is healthy, all records are healthy".
 */

const pair = [
  {
    Name: 'www.',
    Type: 'A' as const,
    SetIdentifier: 'p',
    Weight: 1,
    HealthCheckId: 'calc',
    ResourceRecords: [{ Value: 'P' }],
  },
  {
    Name: 'www.',
    Type: 'A' as const,
    SetIdentifier: 's',
    Weight: 0,
    HealthCheckId: 'sb',
    ResourceRecords: [{ Value: 'S' }],
  },
];

describe('routeAnswer', () => {
  it('answers the healthy non-zero weight first, then a healthy zero weight', () => {
    expect(routeAnswer(pair, new Set())).toEqual(['P']);
    expect(routeAnswer(pair, new Set(['calc']))).toEqual(['S']);
  });

  it('never answers nothing: with no healthy record, every record counts as healthy and the weight decides', () => {
    expect(routeAnswer(pair, new Set(['calc', 'sb']))).toEqual(['P']);
  });

  it('answers a plain record whatever its health', () => {
    expect(
      routeAnswer([{ Name: 'api.', Type: 'A', ResourceRecords: [{ Value: 'X' }] }], new Set(['x'])),
    ).toEqual(['X']);
  });
});
