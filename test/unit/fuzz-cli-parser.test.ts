import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../functions/cli/args';
import { breather } from '../support/breather';

/**
 * Fuzzing the CLI parser: 10,000 generated and mutated argument lists. The parser is pure (it
 * builds a fresh commander program per call, writes nothing, never exits), so the counts that
 * matter are: uncaught exceptions (0), and invalid input that would run a command (0). A run is
 * "valid" only if a command name, service and flags all check out, and every run it returns names
 * a known command.
 */
const COMMANDS = ['status', 'plan', 'failover', 'failback', 'replace', 'reconcile', 'validate'];
const FLAGS = [
  '--config',
  '--region',
  '--json',
  '--verbose',
  '--yes',
  '--to',
  '--capability',
  '--as',
  '--audit',
];
const token = fc.oneof(
  fc.constantFrom(
    ...COMMANDS,
    ...FLAGS,
    'shop',
    'standby',
    'primary',
    'dns',
    'i-0123456789abcdef0',
    '--',
    '-h',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 8 }),
);

describe('fuzz: the CLI parser', () => {
  it('parses 10,000 random argument lists without throwing; nothing unknown runs', async () => {
    const pause = breather();
    let runs = 0;
    let exceptions = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(token, { maxLength: 8 }), async (argv) => {
        await pause();
        let parsed: ReturnType<typeof parseCommand>;
        try {
          parsed = parseCommand(argv);
        } catch {
          exceptions++;
          return;
        }
        if (parsed.kind !== 'run') return;
        runs++;
        // A command that runs is a known one, named in the arguments.
        const name = parsed.command.name === 'module-command' ? parsed.command.verb : parsed.command.name;
        expect(COMMANDS).toContain(name);
        expect(argv).toContain(name);
      }),
      { numRuns: 7_000 },
    );
    // Mutations of valid command lines: one token replaced by garbage.
    const validLines = [
      ['failover', 'shop', '--config', 'x.ts', '--yes'],
      ['plan', 'shop', '--to', 'standby', '--capability', 'dns'],
      ['replace', 'shop', 'i-0123456789abcdef0', '--yes'],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...validLines),
        fc.nat(),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }),
        async (line, at, garbage) => {
          await pause();
          const argv = [...line];
          argv[at % argv.length] = `${garbage}\u0000`;
          try {
            const parsed = parseCommand(argv);
            if (parsed.kind !== 'run') return;
            const name = parsed.command.name === 'module-command' ? parsed.command.verb : parsed.command.name;
            // Garbage may be a service name (checked against the config later), never a command.
            if (!COMMANDS.includes(name)) exceptions++;
          } catch {
            exceptions++;
          }
        },
      ),
      { numRuns: 3_000 },
    );
    expect(exceptions).toBe(0);
    expect(runs).toBeGreaterThan(0);
  });
});
