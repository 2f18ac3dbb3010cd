import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { renderReportHtml } from '../report/html';
import type { ExecutionReport, ReportRecovery } from '../report/model';
import { recoverySentence, transitionEpochs, transitionTimeline } from '../report/timeline';
import type { AuditEntry } from '../state/store';
import { LOCAL_REGION } from './local-aws';
import type { DrillStep } from './timeline';

/**
 * The drill's execution report: one page for the whole drill. Each capability's scenario is a lane
 * and each drill step a bar on it (wall-clock times); each transition the scenarios made is measured
 * from the audit log its control plane wrote (the same pure timeline as a real transition's report).
 */

/** Every audit entry in every table of the emulator, read before a scenario's state is reset. */
export const emulatorAudit = async (endpoint: string): Promise<AuditEntry[]> => {
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, maxAttempts: 2 });
  const doc = DynamoDBDocumentClient.from(client);
  try {
    const entries: AuditEntry[] = [];
    const tables = (await client.send(new ListTablesCommand({}))).TableNames ?? [];
    for (const table of tables) {
      let start: Record<string, unknown> | undefined;
      do {
        const page = await doc.send(
          new ScanCommand({
            TableName: table,
            FilterExpression: 'begins_with(pk, :audit)',
            ExpressionAttributeValues: { ':audit': 'AUDIT#' },
            ExclusiveStartKey: start,
          }),
        );
        for (const item of page.Items ?? []) {
          const { pk: _pk, sk: _sk, expiresAt: _ttl, ...entry } = item;
          entries.push(entry as AuditEntry);
        }
        start = page.LastEvaluatedKey;
      } while (start);
    }
    return entries;
  } finally {
    client.destroy();
  }
};

/** The transitions in one scenario's audit, each measured: label, recovery, RTO. */
export const scenarioRecoveries = (scenario: string, audit: readonly AuditEntry[]): ReportRecovery[] =>
  [...new Set(audit.map((e) => e.service))].sort().flatMap((service) =>
    transitionEpochs(audit.filter((e) => e.service === service))
      .reverse()
      .flatMap((epoch) => {
        const timeline = transitionTimeline(audit, service, epoch);
        if (!timeline) return [];
        const { recovery } = timeline;
        return [
          {
            label: `${scenario}: ${service} epoch ${epoch}${timeline.target ? ` → ${timeline.target}` : ''}`,
            seconds: recovery.seconds,
            rtoSeconds: recovery.rtoMinutes === undefined ? undefined : recovery.rtoMinutes * 60,
            withinRto: recovery.withinRto,
            sentence: recoverySentence(recovery),
          },
        ];
      }),
  );

/** The drill's report data: steps as bars on their scenario's lane, transitions measured. */
export const drillReport = (
  steps: readonly DrillStep[],
  audits: ReadonlyMap<string, readonly AuditEntry[]>,
  generatedAt: Date,
): ExecutionReport => {
  const lanes = [...new Set(steps.map((s) => s.scenario))];
  const recoveries = [...audits].flatMap(([scenario, audit]) => scenarioRecoveries(scenario, audit));
  const failed = steps.filter((s) => !s.ok);
  const decisions = [...audits].flatMap(([scenario, audit]) =>
    audit
      .filter(
        (e) => e.kind === 'decision' || e.kind === 'recovered' || e.kind === 'refused' || e.kind === 'plan',
      )
      .map((e) => ({
        at: e.at,
        kind: e.kind,
        lane: e.capability ?? scenario,
        who: e.source ?? 'reconciler',
        message: e.message,
      })),
  );
  decisions.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const total = steps.reduce((sum, s) => sum + s.ms, 0);
  return {
    title: `understudy drill: ${lanes.filter((l) => l !== 'emulator').join(', ')}`,
    subtitle:
      failed.length === 0
        ? `${steps.length} steps in ${(total / 1000).toFixed(1)} s; every failover and failback converged`
        : `${failed.length} of ${steps.length} steps FAILED`,
    generatedAt: generatedAt.toISOString(),
    facts: [
      ['Steps', `${steps.length} (${failed.length} failed)`],
      ['Transitions measured', String(recoveries.length)],
      [
        'Clock',
        'bars: wall-clock time of each drill step; recovery: the control plane clock, real time plus the minutes the drill moves it forward (the emulator does everything at once)',
      ],
    ],
    lanes,
    bars: steps.map((s) => ({
      lane: s.scenario,
      label: s.name,
      start: s.startedAt,
      end: s.startedAt + s.ms,
      kind: s.ok ? 'step' : 'failed',
      ok: s.ok,
      detail: s.detail,
    })),
    markers: [],
    recoveries,
    decisions,
    notes: [],
  };
};

/** Writes the drill's report (HTML and JSON) into `dir`; returns the HTML's path. */
export const writeDrillReport = async (report: ExecutionReport, dir = 'drill-report'): Promise<string> => {
  const out = resolve(dir);
  await mkdir(out, { recursive: true });
  const html = join(out, 'index.html');
  await writeFile(html, renderReportHtml(report));
  await writeFile(join(out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  return html;
};
