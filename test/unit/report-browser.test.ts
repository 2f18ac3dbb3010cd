import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { drillReport } from '../../functions/drill/report';
import type { DrillStep } from '../../functions/drill/timeline';
import { renderReportHtml } from '../../functions/report/html';
import type { AuditEntry } from '../../functions/state/store';

/**
 * The drill's report in a real headless browser (Debian's chromium): every step is drawn as a bar on
 * its capability's lane, and scripts/screenshot-report.mjs takes the picture. Skipped, saying so,
 * where no chromium is installed (CI may not have one).
 */
const chromium = [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].find(
  (bin) => bin && spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0,
);
if (!chromium) {
  console.warn(
    'report-browser.test.ts: SKIPPED, no chromium installed (apt-get install -y chromium, or set CHROMIUM)',
  );
}

const T = Date.parse('2026-11-22T10:00:00.000Z');
const steps: DrillStep[] = [
  ['dns', 'alarm goes to ALARM', 0, 300],
  ['dns', 'operator fails back', 400, 2000],
  ['database', 'promote the replica', 2500, 600],
  ['database', 'scheduled run: promotion under way, waits', 3200, 200],
  ['compute', 'the spare is registered', 3500, 900],
].map(([scenario, name, offset, ms]) => ({
  scenario: String(scenario),
  name: String(name),
  startedAt: T + Number(offset),
  ms: Number(ms),
  ok: true,
  detail: 'ok',
}));
const audit: AuditEntry[] = [
  {
    service: 'shop',
    at: new Date(T + 100).toISOString(),
    epoch: 1,
    kind: 'decision',
    source: 'alarm:a',
    message: 'moving dns',
    details: {
      evidenceAt: new Date(T).toISOString(),
      capabilities: ['dns'],
      target: 'standby',
      rtoMinutes: 5,
    },
  },
  {
    service: 'shop',
    at: new Date(T + 250).toISOString(),
    epoch: 1,
    kind: 'completed',
    capability: 'dns',
    message: 'ok',
  },
];

describe.skipIf(!chromium)('the drill report in a headless browser', () => {
  const dir = mkdtempSync(join(tmpdir(), 'understudy-browser-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const report = drillReport(steps, new Map([['dns', audit]]), new Date(T + 5000));
  const html = join(dir, 'index.html');
  writeFileSync(html, renderReportHtml(report));

  it('draws every step as a bar on its lane, with the recovery against the RTO', () => {
    const out = spawnSync(
      chromium as string,
      ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', pathToFileURL(html).href],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(out.status, out.stderr).toBe(0);
    const dom = out.stdout;
    for (const lane of ['dns', 'database', 'compute']) {
      expect(dom.match(new RegExp(`<g class="bar step" data-lane="${lane}">`, 'g'))?.length, lane).toBe(
        steps.filter((s) => s.scenario === lane).length,
      );
    }
    expect(dom).toContain('0.25 s / RTO 5 min ✓ within');
  });

  it('takes a screenshot with scripts/screenshot-report.mjs', () => {
    const png = join(dir, 'report.png');
    const out = spawnSync(process.execPath, ['scripts/screenshot-report.mjs', html, png], {
      encoding: 'utf8',
    });
    expect(out.status, out.stdout + out.stderr).toBe(0);
    // A PNG, and not a blank one: a rendered page compresses to more than a few kilobytes.
    const bytes = readFileSync(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.length).toBeGreaterThan(10_000);
  });
});
