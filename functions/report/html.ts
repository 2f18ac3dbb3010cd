import type { ExecutionReport, ReportBar, ReportMarker, ReportRecovery } from './model';
import { formatDuration } from './timeline';

/**
 * The execution report as one self-contained HTML page: inline CSS and SVG, no script, no external
 * asset, so it opens the same from S3, a mail attachment or a laptop. Pure: data in, text out.
 */

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const WIDTH = 1200;
const LANE_LABEL = 150;
const X0 = LANE_LABEL + 20;
const X1 = WIDTH - 24;
const ROW = 24;
const BAR = 16;
const AXIS = 56;
const LANE_GAP = 10;
/** Approximate width of one character of the 12 px labels, to place a label beside its bar. */
const CHAR = 6.6;

const COLOURS: Record<ReportBar['kind'], string> = {
  action: '#2f6fde',
  wait: '#e8a317',
  refused: '#d9480f',
  failed: '#c92a2a',
  step: '#2b8a3e',
};

const MARKER_COLOURS: Record<ReportMarker['kind'], string> = {
  evidence: '#c92a2a',
  decision: '#7048e8',
  converged: '#2b8a3e',
  'alarms-ok': '#1098ad',
};

/** A step of 1, 2 or 5 times a power of ten giving about `count` ticks over `span` ms. */
const tickStep = (span: number, count: number): number => {
  const raw = Math.max(span / count, 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  return step ?? power * 10;
};

const offsetLabel = (ms: number): string => (ms === 0 ? '0' : `+${formatDuration(ms / 1000)}`);

interface Row {
  readonly bar: ReportBar;
  readonly y: number;
}

/** The timeline chart: capabilities as lanes, each step a bar on its own row within its lane. */
export const timelineSvg = (report: ExecutionReport): string => {
  const times = [...report.bars.flatMap((b) => [b.start, b.end]), ...report.markers.map((m) => m.at)].filter(
    (n) => Number.isFinite(n),
  );
  if (times.length === 0) return '<p class="empty">No steps recorded.</p>';
  const t0 = Math.min(...times);
  const span = Math.max(Math.max(...times) - t0, 1);
  const x = (at: number) => X0 + ((at - t0) / span) * (X1 - X0);

  const lanes = [...report.lanes, ...new Set(report.bars.map((b) => b.lane))].filter(
    (lane, i, all) => all.indexOf(lane) === i,
  );
  const rows: Row[] = [];
  const bands: { lane: string; top: number; bottom: number }[] = [];
  let y = AXIS;
  for (const lane of lanes) {
    const bars = report.bars.filter((b) => b.lane === lane).sort((a, b) => a.start - b.start);
    const top = y;
    y += LANE_GAP / 2;
    for (const bar of bars) {
      rows.push({ bar, y });
      y += ROW;
    }
    if (bars.length === 0) y += ROW;
    y += LANE_GAP / 2;
    bands.push({ lane, top, bottom: y });
  }
  const height = y + 28;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="Timeline: capabilities as lanes, steps as bars">`,
    '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
      `<rect width="6" height="6" fill="${COLOURS.wait}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2" opacity="0.5"/></pattern></defs>`,
  );
  for (const [i, band] of bands.entries()) {
    parts.push(
      `<rect class="band" x="0" y="${band.top}" width="${WIDTH}" height="${band.bottom - band.top}" fill="${i % 2 === 0 ? '#f4f6fa' : '#ffffff'}"/>`,
      `<text class="lane" x="12" y="${(band.top + band.bottom) / 2 + 5}">${escapeHtml(band.lane)}</text>`,
    );
  }
  // Axis: ticks as offsets from the first moment shown.
  const step = tickStep(span, 8);
  for (let at = 0; at <= span + 1; at += step) {
    const tx = x(t0 + at);
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="${AXIS - 6}" x2="${tx.toFixed(1)}" y2="${height - 28}" stroke="#dde2ea"/>`,
      `<text class="tick" x="${tx.toFixed(1)}" y="${AXIS - 10}" text-anchor="middle">${escapeHtml(offsetLabel(at))}</text>`,
    );
  }
  for (const { bar, y: top } of rows) {
    const bx = x(bar.start);
    const width = Math.max(x(bar.end) - bx, 4);
    const fill = bar.kind === 'wait' ? 'url(#hatch)' : bar.ok ? COLOURS[bar.kind] : COLOURS.failed;
    const text = `${bar.ok ? '' : '✗ '}${bar.label} · ${formatDuration((bar.end - bar.start) / 1000)}`;
    const room = text.length * CHAR;
    const after = bx + width + 6 + room <= X1 + 20;
    const tx = after ? bx + width + 6 : Math.max(bx - 6, X0 + room);
    parts.push(
      `<g class="bar ${bar.kind}${bar.ok ? '' : ' not-ok'}" data-lane="${escapeHtml(bar.lane)}">` +
        `<title>${escapeHtml(`${bar.lane}: ${bar.label} (${formatDuration((bar.end - bar.start) / 1000)})\n${bar.detail}`)}</title>` +
        `<rect x="${bx.toFixed(1)}" y="${top + (ROW - BAR) / 2}" width="${width.toFixed(1)}" height="${BAR}" rx="3" fill="${fill}"/>` +
        (bar.kind === 'refused'
          ? `<text class="mark" x="${(bx + 2).toFixed(1)}" y="${top + ROW / 2 + 4}" fill="#fff">✕</text>`
          : '') +
        `<text class="label" x="${tx.toFixed(1)}" y="${top + ROW / 2 + 4}" text-anchor="${after ? 'start' : 'end'}">${escapeHtml(text)}</text>` +
        '</g>',
    );
  }
  for (const [i, marker] of report.markers.entries()) {
    const mx = x(marker.at);
    const colour = MARKER_COLOURS[marker.kind];
    parts.push(
      `<g class="marker ${marker.kind}"><title>${escapeHtml(`${marker.label}: ${new Date(marker.at).toISOString()}`)}</title>` +
        `<line x1="${mx.toFixed(1)}" y1="${AXIS - 4}" x2="${mx.toFixed(1)}" y2="${height - 24}" stroke="${colour}" stroke-width="2" stroke-dasharray="5 3"/>` +
        `<text class="marker-label" x="${mx.toFixed(1)}" y="${height - 10 - (i % 2) * 0}" fill="${colour}" text-anchor="${mx > WIDTH / 2 ? 'end' : 'start'}">${escapeHtml(marker.label)}</text></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
};

/** Recovery time against the RTO: one bar per transition, the RTO a red line across it. */
export const recoverySvg = (recoveries: readonly ReportRecovery[]): string => {
  if (recoveries.length === 0) return '<p class="empty">No transition in this report.</p>';
  const max = Math.max(1, ...recoveries.flatMap((r) => [r.seconds ?? 0, r.rtoSeconds ?? 0])) * 1.1;
  const left = 330;
  const right = WIDTH - 240;
  const x = (s: number) => left + (s / max) * (right - left);
  const height = recoveries.length * 30 + 16;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" class="recovery" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" role="img" aria-label="Recovery time against the RTO">`,
  ];
  for (const [i, r] of recoveries.entries()) {
    const y = 8 + i * 30;
    const colour = r.seconds === undefined ? '#868e96' : r.withinRto === false ? '#c92a2a' : '#2b8a3e';
    const measured = r.seconds === undefined ? 'not converged' : formatDuration(r.seconds);
    const target = r.rtoSeconds === undefined ? 'no RTO' : `RTO ${formatDuration(r.rtoSeconds)}`;
    const verdict = r.withinRto === undefined ? '' : r.withinRto ? ' ✓ within' : ' ✗ over';
    parts.push(
      `<g class="recovery-row"><title>${escapeHtml(r.sentence)}</title>`,
      `<text class="lane" x="12" y="${y + 15}">${escapeHtml(r.label)}</text>`,
      `<rect x="${left}" y="${y + 3}" width="${(right - left).toFixed(1)}" height="16" fill="#f1f3f5" rx="3"/>`,
      `<rect x="${left}" y="${y + 3}" width="${Math.max(x(r.seconds ?? 0) - left, 3).toFixed(1)}" height="16" fill="${colour}" rx="3"/>`,
      ...(r.rtoSeconds === undefined
        ? []
        : [
            `<line x1="${x(r.rtoSeconds).toFixed(1)}" y1="${y}" x2="${x(r.rtoSeconds).toFixed(1)}" y2="${y + 22}" stroke="#c92a2a" stroke-width="3"/>`,
          ]),
      `<text class="label" x="${right + 10}" y="${y + 15}">${escapeHtml(`${measured} / ${target}${verdict}`)}</text></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
};

const LEGEND: readonly [string, string][] = [
  [COLOURS.action, 'action, until verified'],
  [COLOURS.wait, 'waiting (hatched)'],
  [COLOURS.refused, 'refused'],
  [COLOURS.failed, 'failed'],
  [COLOURS.step, 'drill step'],
];

const STYLE = `
body { font: 14px/1.45 -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: #212529; margin: 24px; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
.subtitle { font-size: 16px; margin: 0 0 12px; } .ok { color: #2b8a3e; } .over { color: #c92a2a; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0 0; }
dl.facts dt { color: #495057; } dl.facts dd { margin: 0; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 13px; }
svg text { font-size: 12px; font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
svg text.lane { font-weight: 600; font-size: 13px; } svg text.tick { fill: #868e96; font-size: 11px; }
svg text.marker-label { font-weight: 600; font-size: 11px; } svg text.mark { font-size: 11px; font-weight: 700; }
.legend span { display: inline-block; margin-right: 16px; } .legend i { display: inline-block; width: 14px; height: 10px; margin-right: 5px; border-radius: 2px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; } th, td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid #e9ecef; }
td.message { white-space: pre-wrap; word-break: break-word; } td.time { white-space: nowrap; font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.kind-refused, .kind-error { color: #c92a2a; font-weight: 600; } .kind-decision, .kind-recovered { color: #7048e8; font-weight: 600; }
.notes { color: #862e9c; } footer { margin-top: 24px; color: #868e96; font-size: 12px; }
`;

/** The whole page. */
export const renderReportHtml = (report: ExecutionReport): string => {
  const over = report.recoveries.some((r) => r.withinRto === false);
  const facts = report.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('');
  const decisions = report.decisions
    .map(
      (d) =>
        `<tr><td class="time">${escapeHtml(d.at)}</td><td class="kind-${escapeHtml(d.kind)}">${escapeHtml(d.kind)}</td>` +
        `<td>${escapeHtml(d.lane ?? '')}</td><td>${escapeHtml(d.who)}</td><td class="message">${escapeHtml(d.message)}</td></tr>`,
    )
    .join('\n');
  const legend = LEGEND.map(([c, l]) => `<span><i style="background:${c}"></i>${escapeHtml(l)}</span>`).join(
    '',
  );
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(`understudy report: ${report.title}`)}</title>
<style>${STYLE}</style></head>
<body>
<h1>${escapeHtml(report.title)}</h1>
<p class="subtitle ${over ? 'over' : 'ok'}">${escapeHtml(report.subtitle)}</p>
<dl class="facts">${facts}</dl>
<h2>Timeline</h2>
<div class="legend">${legend}</div>
${timelineSvg(report)}
<h2>Recovery time against the RTO</h2>
${recoverySvg(report.recoveries)}
${report.notes.length > 0 ? `<ul class="notes">${report.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join('')}</ul>` : ''}
<h2>Decisions and steps, with their reasons</h2>
<table><thead><tr><th>At</th><th>Kind</th><th>Capability</th><th>Who</th><th>What and why</th></tr></thead>
<tbody>
${decisions}
</tbody></table>
<footer>understudy execution report · generated ${escapeHtml(report.generatedAt)} · the same data is in the JSON file beside this page</footer>
</body></html>
`;
};
