import { Readable } from 'node:stream';
import {
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  Route53Client,
  type Route53ClientConfig,
} from '@aws-sdk/client-route-53';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withRequestBudget } from '../../functions/runtime/request-budget';

/**
 * A real Route53Client (real middleware stack: serialise, retry, sign, deserialise) whose HTTP
 * handler is replaced by a recording fake, so nothing leaves the process. Time (Date.now) is frozen
 * and moves only when the test or the injected sleep says so.
 */

const T0 = Date.parse('2026-11-22T10:00:00.000Z');
let now = T0;

const GET_CHANGE_INSYNC = `<?xml version="1.0" encoding="UTF-8"?>
<GetChangeResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C1</Id><Status>INSYNC</Status><SubmittedAt>2026-11-22T10:00:00.000Z</SubmittedAt></ChangeInfo></GetChangeResponse>`;

const CHANGE_PENDING = `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C2</Id><Status>PENDING</Status><SubmittedAt>2026-11-22T10:00:00.000Z</SubmittedAt></ChangeInfo></ChangeResourceRecordSetsResponse>`;

interface FakeHttp {
  readonly sentAt: number[];
  /** Each request as it left: method and path. */
  readonly sent?: string[];
  /** Status codes to answer with, in order; 200 once they run out. */
  readonly statuses: number[];
}

const fakeHttpHandler = (http: FakeHttp) => ({
  async handle(request: { method: string; path: string }) {
    http.sentAt.push(Date.now());
    http.sent?.push(`${request.method} ${request.path}`);
    const statusCode = http.statuses.shift() ?? 200;
    const body = statusCode !== 200 ? '' : request.method === 'POST' ? CHANGE_PENDING : GET_CHANGE_INSYNC;
    return {
      response: {
        statusCode,
        reason: statusCode === 200 ? 'OK' : 'Service Unavailable',
        headers: { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-1' },
        body: Readable.from([Buffer.from(body)]),
      },
    };
  },
  updateHttpClientConfig() {},
  httpHandlerConfigs: () => ({}),
});

/** A retry strategy with no back-off delay, so a retry costs no wall-clock time in the test. */
const immediateRetries = (maxAttempts: number) => {
  const token = (count: number) => ({
    getRetryCount: () => count,
    getRetryDelay: () => 0,
    getRetryTokenCount: () => 0,
  });
  return {
    mode: 'standard',
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (previous: { getRetryCount(): number }) => {
      const count = previous.getRetryCount() + 1;
      if (count >= maxAttempts) throw new Error('out of attempts');
      return token(count);
    },
    recordSuccess: () => {},
  };
};

const client = (http: FakeHttp, maxAttempts = 1) =>
  new Route53Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' },
    requestHandler: fakeHttpHandler(http) as unknown as Route53ClientConfig['requestHandler'],
    retryStrategy: immediateRetries(maxAttempts) as unknown as Route53ClientConfig['retryStrategy'],
  });

/** A sleep that records what it was asked; `advance` decides whether it also moves the clock. */
const recordingSleep = (advance: boolean) => {
  const delays: number[] = [];
  const sleep = async (ms: number) => {
    delays.push(ms);
    if (advance) now += ms;
  };
  return { delays, sleep };
};

beforeEach(() => {
  now = T0;
  vi.spyOn(Date, 'now').mockImplementation(() => now);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('withRequestBudget', () => {
  it('returns the same client, still working', async () => {
    // Prepare
    const http: FakeHttp = { sentAt: [], statuses: [] };
    const raw = client(http);

    // Act
    const budgeted = withRequestBudget(raw, 2, recordingSleep(true).sleep);
    const out = await budgeted.send(new GetChangeCommand({ Id: 'C1' }));

    // Assess
    expect(budgeted).toBe(raw);
    expect(out.ChangeInfo?.Status).toBe('INSYNC');
    expect(http.sentAt).toHaveLength(1);
  });

  it('spaces back-to-back requests by 1000/perSecond ms', async () => {
    // Prepare
    const http: FakeHttp = { sentAt: [], statuses: [] };
    const { delays, sleep } = recordingSleep(true);
    const r53 = withRequestBudget(client(http), 2, sleep);

    // Act
    for (let i = 0; i < 4; i++) await r53.send(new GetChangeCommand({ Id: 'C1' }));

    // Assess
    expect(delays).toEqual([500, 500, 500]);
    expect(http.sentAt.map((t) => t - T0)).toEqual([0, 500, 1000, 1500]);
  });

  it('reserves a distinct slot for each of several concurrent requests', async () => {
    // Prepare: the sleep does not move time, so each request's wait shows its reserved slot
    const http: FakeHttp = { sentAt: [], statuses: [] };
    const { delays, sleep } = recordingSleep(false);
    const r53 = withRequestBudget(client(http), 4, sleep);

    // Act
    await Promise.all([1, 2, 3, 4].map(() => r53.send(new GetChangeCommand({ Id: 'C1' }))));

    // Assess
    expect(delays.sort((a, b) => a - b)).toEqual([250, 500, 750]);
    expect(http.sentAt).toHaveLength(4);
  });

  it('does not wait when the requests are already far enough apart', async () => {
    // Prepare
    const http: FakeHttp = { sentAt: [], statuses: [] };
    const { delays, sleep } = recordingSleep(true);
    const r53 = withRequestBudget(client(http), 2, sleep);

    // Act
    await r53.send(new GetChangeCommand({ Id: 'C1' }));
    now += 500;
    await r53.send(new GetChangeCommand({ Id: 'C1' }));
    now += 2_000;
    await r53.send(new GetChangeCommand({ Id: 'C1' }));

    // Assess
    expect(delays).toEqual([]);
    expect(http.sentAt).toHaveLength(3);
  });

  it('spaces requests by when they leave, not by when their slot came, when the fence check takes a while', async () => {
    // Prepare: a call guard (low priority, added before the budget, as the client kit does) whose
    // fence read takes 700 ms for the first request and no time for the second
    const http: FakeHttp = { sentAt: [], statuses: [] };
    const { sleep } = recordingSleep(true);
    const raw = client(http);
    const fenceReadMs = [700, 0];
    const fakeCallGuard = (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      now += fenceReadMs.shift() ?? 0;
      return next(args);
    };
    raw.middlewareStack.add(fakeCallGuard as never, {
      step: 'finalizeRequest',
      priority: 'low',
      name: 'fakeCallGuard',
    });
    const r53 = withRequestBudget(raw, 1, sleep);

    // Act
    await Promise.all([1, 2].map(() => r53.send(new GetChangeCommand({ Id: 'C1' }))));

    // Assess: the second leaves a full second after the first left, not 300 ms after
    const [first, second] = http.sentAt.map((t) => t - T0);
    expect(first).toBe(700);
    expect((second ?? 0) - (first ?? 0)).toBeGreaterThanOrEqual(1000);
  });

  it('counts every retry attempt against the budget', async () => {
    // Prepare: the first attempt gets a 503, the SDK retries at once
    const http: FakeHttp = { sentAt: [], statuses: [503] };
    const { delays, sleep } = recordingSleep(true);
    const r53 = withRequestBudget(client(http, 3), 2, sleep);

    // Act
    const out = await r53.send(new GetChangeCommand({ Id: 'C1' }));

    // Assess
    expect(out.ChangeInfo?.Status).toBe('INSYNC');
    expect(http.sentAt.map((t) => t - T0)).toEqual([0, 500]);
    expect(delays).toEqual([500]);
  });

  it('replaces, rather than stacks, an earlier budget on the same client', async () => {
    // Prepare
    const http: FakeHttp = { sentAt: [], statuses: [] };
    const first = recordingSleep(true);
    const second = recordingSleep(true);
    const r53 = withRequestBudget(withRequestBudget(client(http), 2, first.sleep), 1, second.sleep);

    // Act
    await r53.send(new GetChangeCommand({ Id: 'C1' }));
    await r53.send(new GetChangeCommand({ Id: 'C1' }));

    // Assess
    expect(first.delays).toEqual([]);
    expect(second.delays).toEqual([1000]);
  });

  it('gives the next slot to a waiting change before any waiting read, whoever came first', async () => {
    // Prepare: one read in flight, then three reads and a change waiting (time does not move)
    const sent: string[] = [];
    const http: FakeHttp = { sentAt: [], statuses: [], sent };
    // Each wait lasts a macrotask, so every request has reached the budget before the second slot.
    const r53 = withRequestBudget(client(http), 1, () => new Promise((r) => setTimeout(r, 5)));
    const change = () =>
      r53.send(
        new ChangeResourceRecordSetsCommand({
          HostedZoneId: 'Z1',
          ChangeBatch: {
            Changes: [
              {
                Action: 'UPSERT',
                ResourceRecordSet: {
                  Name: 'a.example.',
                  Type: 'A',
                  TTL: 60,
                  ResourceRecords: [{ Value: '192.0.2.1' }],
                },
              },
            ],
          },
        }),
      );

    // Act
    await Promise.all([
      r53.send(new GetChangeCommand({ Id: 'R1' })),
      r53.send(new GetChangeCommand({ Id: 'R2' })),
      r53.send(new GetChangeCommand({ Id: 'R3' })),
      change(),
      r53.send(new GetChangeCommand({ Id: 'R4' })),
    ]);

    // Assess: the first read had its slot already; the change overtakes the reads queued before it
    expect(sent.map((s) => (s.startsWith('POST') ? 'change' : s.replace(/.*\/change\//, '')))).toEqual([
      'R1',
      'change',
      'R2',
      'R3',
      'R4',
    ]);
  });
});
