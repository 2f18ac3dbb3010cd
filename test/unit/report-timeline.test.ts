import { describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../functions/report/html';
import { transitionReport } from '../../functions/report/model';
import {
  formatDuration,
  recoverySentence,
  transitionEpochs,
  transitionTimeline,
} from '../../functions/report/timeline';
import type { AuditEntry } from '../../functions/state/store';

const at = (seconds: number) =>
  new Date(Date.parse('2026-11-22T10:00:00.000Z') + seconds * 1000).toISOString();

/** The audit log of one failover as the engine writes it: alarm at 0 s, two capabilities. */
const failoverAudit = (): AuditEntry[] => [
  {
    service: 'shop',
    at: at(-5),
    epoch: 0,
    kind: 'plan',
    source: 'alarm:shop-primary-unhealthy',
    message: 'primary down. Approval needed',
  },
  {
    service: 'shop',
    at: at(40),
    epoch: 1,
    kind: 'decision',
    source: 'operator:alice',
    message: 'operator alice asked for failover: moving dns, db to the standby (epoch 1)',
    details: {
      evidenceAt: at(30),
      capabilities: ['dns', 'database'],
      target: 'standby',
      mode: 'approve',
      rtoMinutes: 5,
      rpoSeconds: { database: 30 },
    },
  },
  {
    service: 'shop',
    at: at(41),
    epoch: 1,
    kind: 'action',
    capability: 'dns',
    message: 'route53:ChangeResourceRecordSets: flip',
  },
  {
    service: 'shop',
    at: at(45),
    epoch: 1,
    kind: 'completed',
    capability: 'dns',
    message: 'converged: INSYNC',
  },
  {
    service: 'shop',
    at: at(41),
    epoch: 1,
    kind: 'refused',
    capability: 'database',
    message: 'replica lag over budget',
  },
  {
    service: 'shop',
    at: at(100),
    epoch: 1,
    kind: 'action',
    capability: 'database',
    message: 'rds:PromoteReadReplica: promote',
  },
  {
    service: 'shop',
    at: at(101),
    epoch: 1,
    kind: 'waiting',
    capability: 'database',
    message: 'promotion under way',
  },
  {
    service: 'shop',
    at: at(400),
    epoch: 1,
    kind: 'completed',
    capability: 'database',
    message: 'name repointed',
  },
  {
    service: 'shop',
    at: at(900),
    epoch: 1,
    kind: 'held',
    source: 'alarm:shop-primary-unhealthy',
    message: 'alarm OK; failback held',
    details: { alarmStateAt: at(890) },
  },
  { service: 'other', at: at(50), epoch: 1, kind: 'decision', message: 'not this service' },
];

describe('transitionTimeline: measured recovery from the audit log alone', () => {
  it('measures from the alarm state change to the last moved capability converged', () => {
    // Newest first, as readAudit returns it: the order must not matter.
    const timeline = transitionTimeline([...failoverAudit()].reverse(), 'shop', 1);
    expect(timeline).toBeDefined();
    expect(timeline?.evidenceAt).toBe(at(30));
    expect(timeline?.decidedAt).toBe(at(40));
    expect(timeline?.convergedAt).toBe(at(400));
    expect(timeline?.alarmsOkAt).toBe(at(890));
    expect(timeline?.recovery).toEqual({
      seconds: 370,
      rtoMinutes: 5,
      withinRto: false,
      rpoSeconds: { database: 30 },
    });
    expect(timeline?.askedBy).toBe('alarm:shop-primary-unhealthy');
    expect(timeline?.approvedBy).toBe('operator:alice');
    expect(timeline?.capabilities).toEqual(['dns', 'database']);
  });

  it('draws each action until its verification, each wait and each refusal as a span on its lane', () => {
    const timeline = transitionTimeline(failoverAudit(), 'shop', 1);
    expect(timeline?.spans.map((s) => [s.capability, s.kind, s.label, s.start, s.end])).toEqual([
      ['dns', 'action', 'route53:ChangeResourceRecordSets', at(41), at(45)],
      ['database', 'refused', 'refused', at(41), at(100)],
      ['database', 'action', 'rds:PromoteReadReplica', at(100), at(101)],
      ['database', 'wait', 'waiting', at(101), at(400)],
    ]);
    expect(timeline?.milestones.map((m) => m.kind)).toEqual([
      'evidence',
      'decision',
      'converged',
      'converged',
      'alarms-ok',
    ]);
  });

  it('is not recovered while a moved capability is not converged', () => {
    const audit = failoverAudit().filter((e) => !(e.kind === 'completed' && e.capability === 'database'));
    const timeline = transitionTimeline(audit, 'shop', 1);
    expect(timeline?.convergedAt).toBeUndefined();
    expect(timeline?.recovery.seconds).toBeUndefined();
    expect(recoverySentence(timeline?.recovery ?? ({} as never))).toMatch(/not recovered yet/);
  });

  it('counts from the decision when the clocks disagree, and says so', () => {
    const audit = failoverAudit().map((e) =>
      e.kind === 'decision' && e.service === 'shop'
        ? { ...e, details: { ...e.details, evidenceAt: at(60) } }
        : e,
    );
    const timeline = transitionTimeline(audit, 'shop', 1);
    expect(timeline?.evidenceAt).toBe(at(40));
    expect(timeline?.recovery.seconds).toBe(360);
    expect(timeline?.notes[0]).toMatch(/clocks disagree/);
  });

  it('has no timeline for an epoch without a decision; lists the epochs that have one', () => {
    expect(transitionTimeline(failoverAudit(), 'shop', 2)).toBeUndefined();
    expect(transitionEpochs(failoverAudit().filter((e) => e.service === 'shop'))).toEqual([1]);
  });

  it('says the recovery against the RTO as people read it', () => {
    expect(formatDuration(0.25)).toBe('0.25 s');
    expect(formatDuration(42.5)).toBe('42.5 s');
    expect(formatDuration(185)).toBe('3 min 5 s');
    expect(recoverySentence({ seconds: 90, rtoMinutes: 5, withinRto: true, rpoSeconds: {} })).toBe(
      'recovered in 1 min 30 s, within the RTO of 5 min',
    );
    expect(recoverySentence({ seconds: 370, rtoMinutes: 5, withinRto: false, rpoSeconds: {} })).toBe(
      'recovered in 6 min 10 s: OVER the RTO of 5 min by 1 min 10 s',
    );
  });
});

describe('the execution report', () => {
  const timeline = transitionTimeline(failoverAudit(), 'shop', 1);
  if (!timeline) throw new Error('no timeline');
  const report = transitionReport(timeline, new Date(at(1000)));

  it('holds lanes, bars, markers, the recovery against the RTO, who asked and who approved', () => {
    expect(report.lanes).toEqual(['dns', 'database']);
    expect(report.bars).toHaveLength(4);
    expect(report.bars.every((b) => b.end >= b.start)).toBe(true);
    expect(report.recoveries).toEqual([
      expect.objectContaining({ seconds: 370, rtoSeconds: 300, withinRto: false }),
    ]);
    expect(Object.fromEntries(report.facts)).toMatchObject({
      'Asked by': 'alarm:shop-primary-unhealthy',
      'Approved by': 'operator:alice',
      RTO: '5 min',
      RPO: 'database: 30 s',
    });
    expect(report.decisions.map((d) => d.kind)).toContain('refused');
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('is one self-contained page: inline SVG and CSS, nothing fetched, text escaped', () => {
    const evil = transitionReport(
      {
        ...timeline,
        reason: 'x',
        entries: [{ ...failoverAudit()[1], message: '<script>alert(1)</script>' } as AuditEntry],
      },
      new Date(at(1000)),
    );
    const html = renderReportHtml(evil);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|<link|src=|@import|url\(http/i);
    expect(html).toContain('&lt;script&gt;');
    // Every bar is drawn on its lane, with its duration.
    expect(html.match(/<g class="bar /g)).toHaveLength(4);
    expect(html).toContain('data-lane="database"');
    expect(html).toContain('6 min 10 s / RTO 5 min ✗ over');
  });
});
