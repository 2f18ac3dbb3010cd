import { describe, expect, it } from 'vitest';
import { formatElapsed, isInteractive, type Progress } from '../../functions/cli/progress';
import {
  DrillTimeline,
  formatStep,
  NAME_WIDTH,
  truncateWords,
  wrapWords,
} from '../../functions/drill/timeline';

describe('wrapWords and truncateWords: never cut a word', () => {
  it('wraps at word boundaries, keeping an over-long word whole', () => {
    expect(wrapWords('the spare is registered, healthy, then the failed one leaves', 20)).toEqual([
      'the spare is',
      'registered, healthy,',
      'then the failed one',
      'leaves',
    ]);
    expect(wrapWords('http://127.0.0.1:44887/a/very/long/path ok', 10)).toEqual([
      'http://127.0.0.1:44887/a/very/long/path',
      'ok',
    ]);
    expect(wrapWords('', 10)).toEqual(['']);
  });

  it('cuts at the last word boundary with …', () => {
    expect(truncateWords('hand back held mail for shop.example.test', 25)).toBe('hand back held mail for …');
    expect(truncateWords('short', 25)).toBe('short');
  });
});

describe('formatStep: aligned columns', () => {
  it('keeps time and detail in their columns, whatever the name length', () => {
    const short = formatStep({ ok: true, name: 'start', ms: 5, detail: 'up' });
    const long = formatStep({
      ok: false,
      name: '25 messages arrive at the backup MX (SES stores, recorder records) and more words',
      ms: 12345,
      detail: 'held 25',
    });
    expect(short).toEqual([`✓ ${'start'.padEnd(NAME_WIDTH)}      5 ms  up`]);
    expect(long[0]?.startsWith('✗ 25 messages arrive')).toBe(true);
    // The time ends in the same column on both, so the details line up.
    expect(long[0]?.indexOf(' ms  ')).toBe(short[0]?.indexOf(' ms  '));
    expect(long[0]?.endsWith('  held 25')).toBe(true);
    expect(long.slice(1).map((l) => l.trim())).toEqual(wrapWords(long.slice(1).join(' '), NAME_WIDTH));
    expect(long.map((l) => l.slice(2, 2 + NAME_WIDTH).trim()).join(' ')).toBe(
      '25 messages arrive at the backup MX (SES stores, recorder records) and more words',
    );
    for (const line of long) expect(line).not.toMatch(/\w…/);
  });

  it('wraps the detail under its column on a terminal, and leaves it whole in a log', () => {
    const detail =
      'transitioned; PromoteReadReplica x1; name -> understudy-fenced-epoch-1.invalid. and so on';
    const wrapped = formatStep({ ok: true, name: 'alarm', ms: 1, detail }, 110);
    const column = 2 + NAME_WIDTH + 1 + 9 + 2;
    expect(wrapped.length).toBeGreaterThan(1);
    for (const line of wrapped) expect(line.length).toBeLessThanOrEqual(110);
    expect(wrapped[1]?.slice(0, column).trim()).toBe('');
    expect(wrapped.join(' ').replace(/\s+/g, ' ')).toContain(detail);
    expect(formatStep({ ok: true, name: 'alarm', ms: 1, detail })).toHaveLength(1);
  });
});

describe('DrillTimeline', () => {
  it('shows progress while a step runs, then prints plain lines (no spinner when not a terminal)', async () => {
    const events: string[] = [];
    const progress: Progress = {
      start: (text) => events.push(`start ${text}`),
      stop: () => events.push('stop'),
    };
    const lines: string[] = [];
    const timeline = new DrillTimeline({ write: (l) => lines.push(l), progress, width: undefined });
    expect(await timeline.step('dns', 'a step', async () => ({ ok: true, detail: 'fine' }))).toBe(true);
    expect(await timeline.step('dns', 'a failing step', async () => Promise.reject(new Error('boom')))).toBe(
      false,
    );
    expect(events).toEqual(['start a step', 'stop', 'start a failing step', 'stop']);
    expect(lines[0]).toMatch(/^✓ a step +\d+ ms {2}fine$/);
    expect(lines[1]).toMatch(/^✗ a failing step +\d+ ms {2}threw Error: boom/);
    expect(timeline.ok).toBe(false);
  });

  it('is interactive only on a TTY outside CI', () => {
    expect(isInteractive({ isTTY: true }, {})).toBe(true);
    expect(isInteractive({ isTTY: true }, { CI: 'true' })).toBe(false);
    expect(isInteractive({ isTTY: true }, { TERM: 'dumb' })).toBe(false);
    expect(isInteractive({ isTTY: false }, {})).toBe(false);
  });

  it('formats elapsed time for people', () => {
    expect(formatElapsed(400)).toBe('0.4 s');
    expect(formatElapsed(12_400)).toBe('12 s');
    expect(formatElapsed(125_000)).toBe('2 min 05 s');
  });
});
