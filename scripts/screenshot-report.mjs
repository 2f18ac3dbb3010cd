#!/usr/bin/env node
/**
 * Takes a screenshot of an execution report with a real headless browser (Debian's `chromium`, or
 * $CHROMIUM): `node scripts/screenshot-report.mjs drill-report/index.html [out.png] [width]`.
 * The page height is read from the report's own SVG sizes, so the whole report fits in one image.
 * Exit 2 when no browser is installed.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

export const findChromium = () =>
  [process.env.CHROMIUM, 'chromium', 'chromium-browser', 'google-chrome'].find(
    (bin) => bin && spawnSync(bin, ['--version'], { stdio: 'ignore' }).status === 0,
  );

/** Roughly how tall the page is: its SVGs, plus a row per table line and the headings. */
export const pageHeight = (html) => {
  const svgs = [...html.matchAll(/<svg[^>]* height="(\d+)"/g)].reduce((sum, m) => sum + Number(m[1]), 0);
  const rows = (html.match(/<tr>/g) ?? []).length;
  return Math.min(Math.max(svgs + rows * 40 + 600, 800), 16000);
};

export const screenshot = (htmlFile, pngFile, width = 1280) => {
  const chromium = findChromium();
  if (!chromium)
    return { ok: false, reason: 'no chromium found (apt-get install -y chromium, or set CHROMIUM)' };
  const html = readFileSync(htmlFile, 'utf8');
  const out = spawnSync(
    chromium,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--hide-scrollbars',
      `--window-size=${width},${pageHeight(html)}`,
      `--screenshot=${resolve(pngFile)}`,
      pathToFileURL(resolve(htmlFile)).href,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  const ok = out.status === 0 && existsSync(pngFile);
  return { ok, reason: ok ? pngFile : `${chromium} exited ${out.status}: ${out.stderr}`, chromium };
};

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [html = 'drill-report/index.html', png = html.replace(/\.html$/, '.png'), width] =
    process.argv.slice(2);
  const result = screenshot(html, png, width ? Number(width) : undefined);
  console.log(result.ok ? `screenshot: ${resolve(png)}` : `no screenshot: ${result.reason}`);
  process.exit(result.ok ? 0 : result.reason.startsWith('no chromium') ? 2 : 1);
}
