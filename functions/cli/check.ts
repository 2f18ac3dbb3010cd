import type { Config } from '../config/schema';
import type { Log } from '../core/log';
import { evaluateReadiness, type PartReadiness, type ReadinessPlane } from '../readiness/engine';
import { findingLine } from '../readiness/finding';
import { createReadinessPlane } from '../readiness/plane';
import { createClientKit } from '../runtime/client-kit';
import { ROUTE53_SHARES } from '../runtime/route53-shares';
import type { Command } from './args';
import type { CommandResult } from './commands';

/** Builds the readiness plane `check` runs on: real AWS clients by default, fakes in tests. */
export type ReadinessPlaneFactory = (
  config: Config,
  context: {
    readonly region: string;
    readonly log: Log;
    readonly env: Readonly<Record<string, string | undefined>>;
  },
) => ReadinessPlane;

/** The roles `check` simulates: the acting functions' (a stack output), from the environment. */
export const ACTING_ROLES_ENV = 'UNDERSTUDY_ACTING_ROLE_ARNS';

export const awsReadinessPlane: ReadinessPlaneFactory = (config, { region, log, env }) =>
  createReadinessPlane({
    config,
    clients: createClientKit({ region, maxAttempts: 2, route53PerSecond: ROUTE53_SHARES.cli.perSecond }),
    log,
    roles: (env[ACTING_ROLES_ENV] ?? '').split(',').filter((arn) => arn.trim().length > 0),
    runName: 'cli',
  });

const LABEL = { ready: 'ready', 'not-ready': 'NOT READY' } as const;

/** `check [service]`: exit 1 when any capability (or the shared checks) of a service is not ready. */
export const runCheck = async (
  plane: ReadinessPlane,
  command: Extract<Command, { name: 'check' }>,
): Promise<CommandResult> => {
  const services =
    command.service === undefined
      ? plane.config.services
      : plane.config.services.filter((s) => s.name === command.service);
  const verdicts = await evaluateReadiness(plane, services);
  const byService = services.map((service) => {
    const parts = verdicts.filter((v) => v.service === service.name);
    return {
      service: service.name,
      verdict: parts.every((p) => p.verdict === 'ready') ? ('ready' as const) : ('not-ready' as const),
      parts,
    };
  });
  const lines = byService.flatMap(({ service, verdict, parts }) => [
    `${service}: ${LABEL[verdict]}`,
    ...parts.flatMap((part: PartReadiness) => {
      const shown = part.findings.filter((f) => f.state !== 'ready');
      return shown.length === 0
        ? [`  ${part.part}: ready`]
        : shown.map((f) => `  ${part.part}: ${findingLine(f)}`);
    }),
  ]);
  const ready = byService.every((s) => s.verdict === 'ready');
  return {
    exitCode: ready ? 0 : 1,
    lines,
    json: {
      command: 'check',
      services: byService.map(({ service, verdict, parts }) => ({
        service,
        verdict,
        parts: parts.map(({ part, verdict: v, findings }) => ({ part, verdict: v, findings })),
      })),
    },
  };
};
