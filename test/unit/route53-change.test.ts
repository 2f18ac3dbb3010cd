import { Readable } from 'node:stream';
import { type Change, Route53Client } from '@aws-sdk/client-route-53';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../functions/core/clock';
import { type CallGuard, guardedAttempt, withCallGuard } from '../../functions/engine/call-guard';
import { withRequestBudget } from '../../functions/runtime/request-budget';
import { changeRecordSets, ROUTE53_BATCH_LIMITS } from '../../functions/runtime/route53-change';

/**
 * Changes to one hosted zone that a process asks for while its Route 53 budget holds the request
 * back leave as one batch: a real Route53Client (real middleware and budget) whose HTTP handler is a
 * recording fake answering like Route 53, so nothing leaves the process.
 */

interface SentRequest {
  readonly method: string;
  readonly path: string;
  readonly body: string;
}

const xml = (tag: string, id: string, status: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><${tag} xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/${id}</Id><Status>${status}</Status><SubmittedAt>2026-11-22T10:00:00.000Z</SubmittedAt></ChangeInfo></${tag}>`;

/** Route 53's refusal of a change batch, in the standard error form it answers with today. */
const INVALID_BATCH = `<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>InvalidChangeBatch</Code><Message>[Tried to delete resource record set [name='bad.example.com.', type='A'] but it was not found]</Message></Error><RequestId>req-2</RequestId></ErrorResponse>`;

/** Route 53 as far as changes go: each change batch gets the next id; one named record is refused. */
const fakeRoute53 = (options: { refuse?: string } = {}) => {
  const sent: SentRequest[] = [];
  let changes = 0;
  const handler = {
    async handle(request: { method: string; path: string; body?: unknown }) {
      const body = String(request.body ?? '');
      sent.push({ method: request.method, path: request.path, body });
      const refused = options.refuse !== undefined && body.includes(options.refuse);
      const payload =
        request.method === 'POST'
          ? refused
            ? INVALID_BATCH
            : xml('ChangeResourceRecordSetsResponse', `C${++changes}`, 'PENDING')
          : xml('GetChangeResponse', request.path.split('/').pop() ?? '', 'INSYNC');
      return {
        response: {
          statusCode: refused ? 400 : 200,
          reason: refused ? 'Bad Request' : 'OK',
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': 'req-1' },
          body: Readable.from([Buffer.from(payload)]),
        },
      };
    },
    updateHttpClientConfig() {},
    httpHandlerConfigs: () => ({}),
  };
  const client = new Route53Client({
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    requestHandler: handler as never,
    maxAttempts: 1,
  });
  // The client kit's call guard (functions/runtime/client-kit.ts): after the budget, every attempt.
  (client.middlewareStack as unknown as { add: (m: unknown, o: unknown) => void }).add(
    (next: (args: unknown) => Promise<unknown>, context: { clientName?: string; commandName?: string }) =>
      (args: unknown) =>
        guardedAttempt(context.clientName ?? '', context.commandName ?? '', () => next(args)),
    { step: 'finalizeRequest', priority: 'low', name: 'testCallGuard' },
  );
  return { client, sent, posts: () => sent.filter((r) => r.method === 'POST') };
};

/** An action's guard: `superseded` makes its fence refuse, as a newer epoch would. */
const guardOf = (service: string, superseded = false) => {
  const checks: string[] = [];
  const guard: CallGuard = {
    service,
    epoch: 1,
    token: 1,
    once: false,
    attempts: [],
    async check() {
      checks.push(service);
      if (superseded) throw new Error(`${service}: epoch 1 superseded`);
    },
  };
  return { guard, checks };
};

const upsert = (name: string): Change => ({
  Action: 'UPSERT',
  ResourceRecordSet: { Name: name, Type: 'A', TTL: 60, ResourceRecords: [{ Value: '198.51.100.10' }] },
});

const batchFor = (service: string, zone = 'ZONE1', changes = [upsert(`www.${service}.example.com`)]) => ({
  hostedZoneId: zone,
  comment: `understudy ${service} epoch 1`,
  changes,
});

const VERIFY = { verifyAttempts: 1, verifyIntervalMs: 0 };
const changesIn = (request: SentRequest) => request.body.split('<Change>').length - 1;

describe('Route 53 changes gathered per hosted zone while the budget holds them back', () => {
  it('sends the changes of services moving in one zone as one batch, and verifies it with one read', async () => {
    // Prepare: a budgeted client (a slot each 500 ms, slow enough for a loaded machine) whose next
    // slot is taken by a change already sent
    const route53 = fakeRoute53();
    withRequestBudget(route53.client, 2);
    await changeRecordSets(route53.client, systemClock, batchFor('first'), false);

    // Act: three services in ZONE1 and one in ZONE2 move at once
    const results = await Promise.all([
      changeRecordSets(route53.client, systemClock, batchFor('a'), VERIFY),
      changeRecordSets(route53.client, systemClock, batchFor('b'), VERIFY),
      changeRecordSets(route53.client, systemClock, batchFor('c'), VERIFY),
      changeRecordSets(route53.client, systemClock, batchFor('d', 'ZONE2'), VERIFY),
    ]);

    // Assess: one batch per zone after the first (in either order), each member told its batch's change
    const posts = route53.posts().slice(1);
    expect(posts.map((p) => [p.path.split('/')[3], changesIn(p)]).sort()).toEqual([
      ['ZONE1', 3],
      ['ZONE2', 1],
    ]);
    expect(posts.find((p) => p.path.includes('ZONE1'))?.body).toContain(
      '3 gathered: understudy a epoch 1; understudy b epoch 1; understudy c epoch 1',
    );
    const [a, b, c, d] = results;
    expect(new Set([a?.changeId, b?.changeId, c?.changeId]).size).toBe(1);
    expect(d?.changeId).not.toBe(a?.changeId);
    expect(results.every((r) => r.status === 'INSYNC')).toBe(true);
    expect(
      route53.sent
        .filter((r) => r.method === 'GET')
        .map((r) => r.path.replace('/2013-04-01', ''))
        .sort(),
    ).toEqual([a?.changeId, d?.changeId].sort());
  });

  it('sends each member alone again when Route 53 refuses the gathered batch, so only the bad change fails', async () => {
    // Prepare
    const route53 = fakeRoute53({ refuse: 'bad.example.com' });
    withRequestBudget(route53.client, 2);
    await changeRecordSets(route53.client, systemClock, batchFor('first'), false);

    // Act
    const results = await Promise.allSettled([
      changeRecordSets(route53.client, systemClock, batchFor('a'), false),
      changeRecordSets(
        route53.client,
        systemClock,
        batchFor('bad', 'ZONE1', [upsert('bad.example.com')]),
        false,
      ),
      changeRecordSets(route53.client, systemClock, batchFor('c'), false),
    ]);

    // Assess: the gathered batch, then each member alone
    expect(route53.posts().slice(1).map(changesIn)).toEqual([3, 1, 1, 1]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ name: 'InvalidChangeBatch' });
  });

  it("checks every member's fence before the gathered batch leaves; a superseded member fails alone", async () => {
    // Prepare
    const route53 = fakeRoute53();
    withRequestBudget(route53.client, 2);
    await changeRecordSets(route53.client, systemClock, batchFor('first'), false);
    const [a, stale, c] = [guardOf('a'), guardOf('stale', true), guardOf('c')];

    // Act
    const results = await Promise.allSettled(
      [a, stale, c].map(({ guard }) =>
        withCallGuard(guard, () =>
          changeRecordSets(route53.client, systemClock, batchFor(guard.service), false),
        ),
      ),
    );

    // Assess: the gathered batch never left; a and c went alone, the superseded one not at all
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toContain('stale: epoch 1 superseded');
    expect(route53.posts().slice(1).map(changesIn)).toEqual([1, 1]);
    expect(
      route53
        .posts()
        .slice(1)
        .map((p) => p.body.match(/www\.(\w+)\.example/)?.[1]),
    ).toEqual(['a', 'c']);
    expect(stale.checks.length).toBe(2);
    expect(a.guard.attempts).toEqual(['blocked', 'ok']);
  });

  it("never gathers past Route 53's quota of changes in one batch", async () => {
    // Prepare
    const route53 = fakeRoute53();
    withRequestBudget(route53.client, 2);
    await changeRecordSets(route53.client, systemClock, batchFor('first'), false);
    const services = Array.from({ length: 30 }, (_, i) => `svc${i}`);

    // Act: 30 services of 4 changes each
    await Promise.all(
      services.map((s) =>
        changeRecordSets(
          route53.client,
          systemClock,
          batchFor(
            s,
            'ZONE1',
            [1, 2, 3, 4].map((n) => upsert(`r${n}.${s}.example.com`)),
          ),
          false,
        ),
      ),
    );

    // Assess
    const sizes = route53.posts().slice(1).map(changesIn);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(120);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(ROUTE53_BATCH_LIMITS.changes);
    expect(sizes.length).toBeLessThan(30);
  });

  it('sends at once and alone when nothing holds the request back (no budget)', async () => {
    // Prepare
    const route53 = fakeRoute53();

    // Act
    await Promise.all([
      changeRecordSets(route53.client, systemClock, batchFor('a'), false),
      changeRecordSets(route53.client, systemClock, batchFor('b'), false),
    ]);

    // Assess
    expect(route53.posts().map(changesIn)).toEqual([1, 1]);
  });
});
