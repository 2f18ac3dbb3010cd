import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CAPABILITY_MODULES } from '../capabilities/registry';
import { type CapabilityName, type Config, capabilitiesOf, type ServiceConfig } from '../config/schema';
import { operatorCommand } from '../core/operator-command';
import {
  activeSite,
  type DesiredState,
  type IntentParams,
  type Site,
  type TransitionRequest,
} from '../core/types';
import { describePlan } from '../engine/describe';
import { type CapabilityReport, type ControlPlane, reconcileAll, reconcileService } from '../engine/engine';
import type { CapabilityModule, OperatorCommand } from '../engine/module';
import { planTransition, requestTransition } from '../engine/transition';
import { renderReportHtml } from '../report/html';
import { transitionReport } from '../report/model';
import { RECOVERY_AUDIT_WINDOW } from '../report/recovery';
import { recoverySentence, transitionEpochs, transitionTimeline } from '../report/timeline';
import type { IntentDecision } from '../state/intent';
import type { AuditEntry, ReadinessRecord, ServiceRecord } from '../state/store';
import type { Command } from './args';
import { allConverged, formatReport, formatStatus, reportView, type ServiceStatusView } from './format';

/** What a command produced: the exit code, the text for people and the document for `--json`. */
export interface CommandResult {
  readonly exitCode: 0 | 1 | 2;
  readonly lines: readonly string[];
  readonly json: Readonly<Record<string, unknown>>;
}

/** What a command that changes things is about to do, shown to the operator before it asks. */
export interface ChangePreview {
  readonly command: string;
  readonly service: ServiceConfig;
  /** One line: what moves where. */
  readonly headline: string;
  /** The plan: the desired-state write and every AWS call, with reasons. */
  readonly steps: readonly string[];
  /** A capability would refuse or could not be observed: the intent would be recorded and wait. */
  readonly blocked: boolean;
}

export type ConfirmVerdict =
  | { readonly go: true }
  | { readonly go: false; readonly exitCode: 1 | 2; readonly reason: string };

/** Shows the preview and asks the operator; nothing is written before it says go. */
export type Confirm = (preview: ChangePreview) => Promise<ConfirmVerdict>;

/** For callers that have already asked (and tests of what follows the question). */
export const alwaysConfirm: Confirm = async () => ({ go: true });

/** The module command a parsed command names. */
export const moduleCommandOf = (
  command: Extract<Command, { name: 'module-command' }>,
  modules: readonly CapabilityModule[] = CAPABILITY_MODULES,
): OperatorCommand => {
  const found = modules
    .find((m) => m.name === command.capability)
    ?.commands?.find((c) => c.name === command.verb);
  // parseCommand only makes commands the modules declare; reaching this is a programming error.
  if (!found) throw new Error(`no command "${command.verb}" in module "${command.capability}"`);
  return found;
};

/**
 * Checks a command against the loaded config: the service exists and configures every capability
 * asked for. Returns the usage error to print (exit 2), or undefined when the command is fine.
 */
export const checkCommand = (config: Config, command: Command): string | undefined => {
  if (!('service' in command) || command.service === undefined) return undefined;
  const service = config.services.find((s) => s.name === command.service);
  if (!service) {
    return `no service "${command.service}" in the config (services: ${config.services.map((s) => s.name).join(', ')})`;
  }
  if (command.name === 'module-command') {
    const refusal = moduleCommandOf(command).refuse?.(service);
    if (refusal !== undefined) return refusal;
  }
  if ('capabilities' in command && command.capabilities !== undefined) {
    const configured = capabilitiesOf(service);
    const missing = command.capabilities.filter((c) => !configured.includes(c));
    if (missing.length > 0) {
      return `service "${service.name}" has no ${missing.join(', ')} section (it configures: ${configured.join(', ')})`;
    }
    if (command.capabilities.length === 0) return '--capability names no capability';
  }
  return undefined;
};

const serviceNamed = (config: Config, name: string): ServiceConfig => {
  const service = config.services.find((s) => s.name === name);
  // checkCommand runs first; reaching this is a programming error, not a usage error.
  if (!service) throw new Error(`no service "${name}" in the config`);
  return service;
};

/** Where a plan goes when `--to` is not given: back to the primary only if everything chosen is on the standby. */
export const defaultTarget = (desired: DesiredState, capabilities: readonly CapabilityName[]): Site =>
  capabilities.length > 0 && capabilities.every((c) => activeSite(desired, c) === 'standby')
    ? 'primary'
    : 'standby';

/** The transition an operator asks for: recorded as operator:<name>, allowed inside the cooldown. */
export const operatorRequest = (
  service: ServiceConfig,
  capabilities: readonly CapabilityName[],
  target: Site,
  operator: string,
  params?: IntentParams,
): TransitionRequest => ({
  service: service.name,
  capabilities,
  target,
  requestedBy: `operator:${operator}`,
  reason: `operator ${operator} asked for ${verbFor(target)}${params ? ` (${Object.keys(params).join(', ')})` : ''}`,
  ignoreCooldown: true,
  ...(params && { params }),
});

const verbFor = (target: Site) => (target === 'standby' ? 'failover' : 'failback');

/** The current transition's measured recovery, when its decision is among the recent audit entries. */
export const recoveryView = (service: ServiceConfig, epoch: number, recent: readonly AuditEntry[]) => {
  const timeline = epoch > 0 ? transitionTimeline(recent, service.name, epoch) : undefined;
  if (!timeline) return undefined;
  const { seconds, rtoMinutes, withinRto } = timeline.recovery;
  return {
    epoch,
    ...(seconds !== undefined && { seconds }),
    ...(rtoMinutes !== undefined && { rtoMinutes }),
    ...(withinRto !== undefined && { withinRto }),
    sentence: recoverySentence(timeline.recovery),
  };
};

export const statusView = (
  service: ServiceConfig,
  record: ServiceRecord,
  audit: readonly AuditEntry[] | undefined,
  recovery?: ReturnType<typeof recoveryView>,
  readiness: readonly ReadinessRecord[] = [],
): ServiceStatusView => ({
  service: service.name,
  mode: service.mode,
  cooldownMinutes: service.cooldownMinutes,
  epoch: record.desired.epoch,
  requestedBy: record.desired.requestedBy,
  requestedAt: record.desired.requestedAt,
  reason: record.desired.reason,
  capabilities: capabilitiesOf(service).map((capability) => {
    const status = record.statuses[capability];
    return {
      capability,
      desired: activeSite(record.desired, capability),
      changedAt: record.desired.capabilities[capability]?.changedAt,
      status: status && {
        phase: status.phase,
        detail: status.detail,
        epoch: status.epoch,
        active: status.active,
        updatedAt: status.updatedAt,
        ...(status.pending && { pending: status.pending }),
      },
    };
  }),
  ...(audit !== undefined && { audit }),
  ...(recovery !== undefined && { recovery }),
  ...(readiness.length > 0 && {
    readiness: readiness.map(({ part, verdict, findings, checkedAt, changedAt }) => ({
      part,
      verdict,
      checkedAt,
      changedAt,
      findings: findings.filter((f) => f.state !== 'ready'),
    })),
  }),
});

const decisionView = (decision: IntentDecision) =>
  decision.kind === 'transition'
    ? { kind: decision.kind, changed: decision.changed, next: decision.next }
    : decision.kind === 'cooldown'
      ? { kind: decision.kind, reason: decision.reason, until: decision.until.toISOString() }
      : { kind: decision.kind, reason: decision.reason };

/** A plan is blocked when a capability would refuse or could not even be observed. */
const planBlocked = (reports: readonly CapabilityReport[]) =>
  reports.some((r) => r.phase === 'failed' || r.plan?.kind === 'refuse');

/** The command-line flags that ask for the same capabilities and intent params again. */
const capabilityFlags = (command: {
  capabilities: readonly CapabilityName[] | undefined;
  params?: IntentParams | undefined;
}): string[] => [
  ...(command.capabilities ? ['--capability', command.capabilities.join(',')] : []),
  ...CAPABILITY_MODULES.flatMap((m) => m.flags ?? [])
    .filter((flag) => command.params?.[flag.param] === true)
    .map((flag) => `--${flag.flag}`),
];

const runStatus = async (
  cp: ControlPlane,
  command: Extract<Command, { name: 'status' }>,
): Promise<CommandResult> => {
  const services =
    command.service === undefined ? cp.config.services : [serviceNamed(cp.config, command.service)];
  const views: ServiceStatusView[] = [];
  // One service after another, like the scheduled run: a status check never bursts the table.
  for (const service of services) {
    const record = await cp.store.readService(service.name);
    // One read of the recent audit: the entries asked for, and the current transition's recovery.
    const recent = await cp.store.readAudit(service.name, Math.max(command.audit, STATUS_AUDIT_WINDOW));
    const audit = command.audit > 0 ? recent.slice(0, command.audit) : undefined;
    const readiness = await cp.store.readReadiness(service.name);
    views.push(
      statusView(service, record, audit, recoveryView(service, record.desired.epoch, recent), readiness),
    );
  }
  return { exitCode: 0, lines: formatStatus(views), json: { command: 'status', services: views } };
};

/** How many recent audit entries `status` reads to measure the current transition's recovery. */
const STATUS_AUDIT_WINDOW = 100;

/** Writes a transition's execution report (HTML and JSON) from the audit log. Reads AWS only. */
const runReport = async (
  cp: ControlPlane,
  command: Extract<Command, { name: 'report' }>,
): Promise<CommandResult> => {
  const service = serviceNamed(cp.config, command.service);
  const audit = await cp.store.readAudit(service.name, RECOVERY_AUDIT_WINDOW * 3);
  const epochs = transitionEpochs(audit);
  const epoch = command.epoch ?? epochs[0];
  const timeline = epoch === undefined ? undefined : transitionTimeline(audit, service.name, epoch);
  if (epoch === undefined || !timeline) {
    const reason =
      epoch === undefined
        ? `no transition of ${service.name} is in the audit log`
        : `no transition of ${service.name} to epoch ${epoch} is in the audit log (transitions found: ${epochs.join(', ') || 'none'})`;
    return {
      exitCode: 1,
      lines: [`report ${service.name}: ${reason}`],
      json: { command: 'report', service: service.name, error: reason },
    };
  }
  const report = transitionReport(timeline, cp.clock.now());
  const dir = resolve(command.out ?? '.');
  const base = join(dir, `understudy-${service.name}-epoch-${epoch}`);
  await mkdir(dir, { recursive: true });
  await writeFile(`${base}.html`, renderReportHtml(report));
  await writeFile(`${base}.json`, `${JSON.stringify({ report, timeline }, null, 2)}\n`);
  return {
    exitCode: 0,
    lines: [
      `report ${service.name} epoch ${epoch}: ${recoverySentence(timeline.recovery)}`,
      `  ${base}.html`,
      `  ${base}.json`,
    ],
    json: {
      command: 'report',
      service: service.name,
      epoch,
      recovery: timeline.recovery,
      html: `${base}.html`,
      json: `${base}.json`,
    },
  };
};

interface PlanView {
  readonly target: Site;
  readonly capabilities: readonly CapabilityName[];
  readonly epoch: number;
  readonly decision: ReturnType<typeof decisionView>;
  readonly reports: readonly ReturnType<typeof reportView>[];
  readonly steps: readonly string[];
  readonly blocked: boolean;
}

const makePlan = async (
  cp: ControlPlane,
  service: ServiceConfig,
  capabilities: readonly CapabilityName[],
  target: Site,
  operator: string,
  params?: IntentParams,
): Promise<PlanView> => {
  const request = operatorRequest(service, capabilities, target, operator, params);
  const { decision, reports, epoch } = await planTransition(cp, service, request);
  return {
    target,
    capabilities,
    epoch,
    decision: decisionView(decision),
    reports: reports.map(reportView),
    steps: describePlan(decision, reports),
    blocked: planBlocked(reports),
  };
};

const planLines = (plan: PlanView): string[] => plan.steps.map((step) => `  ${step}`);

const runPlan = async (
  cp: ControlPlane,
  command: Extract<Command, { name: 'plan' }>,
  operator: string,
): Promise<CommandResult> => {
  const service = serviceNamed(cp.config, command.service);
  const capabilities = command.capabilities ?? capabilitiesOf(service);
  const target =
    command.to ?? defaultTarget((await cp.store.readService(service.name)).desired, capabilities);
  const plan = await makePlan(cp, service, capabilities, target, operator, command.params);
  const verb = verbFor(target);
  const lines = [
    `plan for ${service.name}: ${verb} of ${capabilities.join(', ')} to the ${target} ` +
      `(dry run: nothing was changed; desired state now at epoch ${plan.epoch}, mode ${service.mode})`,
    ...planLines(plan),
  ];
  if (plan.blocked) {
    lines.push(
      `not ready: a capability would refuse or could not be observed; ${verb} would record the intent ` +
        'and then wait, re-checking on every run',
    );
  }
  lines.push(
    service.mode === 'dry-run'
      ? `${service.name} is in dry-run mode: ${verb} would only print this plan (set mode to approve or auto to act)`
      : `to carry it out: ${operatorCommand(verb, service.name, ...capabilityFlags(command))}`,
  );
  return {
    exitCode: plan.blocked ? 1 : 0,
    lines,
    json: { command: 'plan', service: service.name, mode: service.mode, ...plan },
  };
};

/** The result when the operator did not confirm: nothing was written. */
const notConfirmed = (
  verdict: Extract<ConfirmVerdict, { go: false }>,
  head: Record<string, unknown>,
  plan: unknown,
): CommandResult => ({
  exitCode: verdict.exitCode,
  lines: [`not done: ${verdict.reason}`],
  json: { ...head, outcome: { kind: 'not-confirmed', reason: verdict.reason }, plan },
});

const runTransition = async (
  cp: ControlPlane,
  command: Extract<Command, { name: 'failover' | 'failback' }>,
  operator: string,
  confirm: Confirm,
): Promise<CommandResult> => {
  const service = serviceNamed(cp.config, command.service);
  const capabilities = command.capabilities ?? capabilitiesOf(service);
  const target: Site = command.name === 'failover' ? 'standby' : 'primary';
  const head = { command: command.name, service: service.name, mode: service.mode, target, capabilities };

  if (service.mode === 'dry-run') {
    const plan = await makePlan(cp, service, capabilities, target, operator, command.params);
    const reason =
      `${service.name} is in dry-run mode: ${command.name} only plans, nothing was changed ` +
      '(set the mode to approve or auto in the config to act)';
    return {
      exitCode: 1,
      lines: [`refused: ${reason}. The plan:`, ...planLines(plan)],
      json: { ...head, outcome: { kind: 'refused', reason }, plan },
    };
  }

  const plan = await makePlan(cp, service, capabilities, target, operator, command.params);
  const verdict = await confirm({
    command: command.name,
    service,
    headline: `${command.name} of ${capabilities.join(', ')} to the ${target}`,
    steps: plan.steps,
    blocked: plan.blocked,
  });
  if (!verdict.go) return notConfirmed(verdict, head, plan);

  const outcome = await requestTransition(
    cp,
    service,
    operatorRequest(service, capabilities, target, operator, command.params),
  );
  if (outcome.kind === 'transitioned') {
    const done = allConverged(outcome.reports);
    return {
      exitCode: done ? 0 : 1,
      lines: [
        `${command.name} ${service.name}: desired state is now epoch ${outcome.epoch}, ` +
          `${outcome.changed.join(', ')} on the ${target} (requested by operator:${operator})`,
        ...outcome.reports.map(formatReport),
        ...(done ? [] : [notDoneHint(service.name)]),
      ],
      json: {
        ...head,
        outcome: { kind: outcome.kind, epoch: outcome.epoch, changed: outcome.changed },
        reports: outcome.reports.map(reportView),
      },
    };
  }
  if (outcome.kind !== 'unchanged') {
    // Operators skip the cooldown, so this is a safety net rather than an expected path.
    return {
      exitCode: 1,
      lines: [`${command.name} ${service.name}: ${outcome.kind}: ${outcome.reason}`],
      json: { ...head, outcome },
    };
  }

  // Already desired: take the next reconcile step, so running the command again carries on converging.
  const record = await cp.store.readService(service.name);
  if (!capabilities.every((c) => activeSite(record.desired, c) === target)) {
    return {
      exitCode: 1,
      lines: [`${command.name} ${service.name}: not recorded: ${outcome.reason}`],
      json: { ...head, outcome },
    };
  }
  const reports = await reconcileService(cp, service, capabilities, { record });
  const done = allConverged(reports);
  return {
    exitCode: done ? 0 : 1,
    lines: [
      `${command.name} ${service.name}: nothing to record, ${outcome.reason}; reconciled once more:`,
      ...reports.map(formatReport),
      ...(done ? [] : [notDoneHint(service.name)]),
    ],
    json: { ...head, outcome, reports: reports.map(reportView) },
  };
};

const notDoneHint = (service: string) =>
  `not converged yet: the intent is recorded and the scheduled reconciler carries on every minute; ` +
  `watch with: ${operatorCommand('status', service, '--watch')}`;

const runReconcile = async (
  cp: ControlPlane,
  command: Extract<Command, { name: 'reconcile' }>,
): Promise<CommandResult> => {
  let reports: CapabilityReport[];
  let expected: readonly ServiceConfig[];
  if (command.service === undefined) {
    expected = cp.config.services;
    reports = await reconcileAll(cp);
  } else {
    const service = serviceNamed(cp.config, command.service);
    expected = [service];
    // The same rule as reconcileAll: a dry-run service is only ever planned.
    reports = await reconcileService(cp, service);
  }
  // reconcileAll logs and skips a service it cannot read; name it here so the exit code tells.
  const unreached = expected.filter((s) => !reports.some((r) => r.service === s.name)).map((s) => s.name);
  const done = unreached.length === 0 && allConverged(reports, { planned: true });
  return {
    exitCode: done ? 0 : 1,
    lines: [
      `reconciled ${expected.length - unreached.length} of ${expected.length} service(s):`,
      ...reports.map(formatReport),
      ...unreached.map((s) => `  ${s}: could not be read (the error is on stderr)`),
      ...(done ? [] : ['not everything is converged; the scheduled reconciler carries on every minute']),
    ],
    json: { command: 'reconcile', reports: reports.map(reportView), unreached },
  };
};

/** Runs a checked command against a control plane. AWS errors propagate to the caller. */
export const runCommand = (
  cp: ControlPlane,
  command: Command,
  operator: string,
  confirm: Confirm = alwaysConfirm,
): Promise<CommandResult> => {
  switch (command.name) {
    case 'status':
      return runStatus(cp, command);
    case 'plan':
      return runPlan(cp, command, operator);
    case 'failover':
    case 'failback':
      return runTransition(cp, command, operator, confirm);
    case 'module-command':
      return runModuleCommand(cp, command, operator, confirm);
    case 'reconcile':
      return runReconcile(cp, command);
    case 'report':
      return runReport(cp, command);
    case 'validate':
      // main answers validate itself, before any AWS client exists.
      throw new Error('validate needs no control plane');
    case 'check':
      // main runs check on a readiness plane (functions/cli/check.ts).
      throw new Error('check runs on a readiness plane');
  }
};

/** A module's own command (e.g. a per-server swap): its request, through the same transition path. */
const runModuleCommand = async (
  cp: ControlPlane,
  command: Extract<Command, { name: 'module-command' }>,
  operator: string,
  confirm: Confirm,
): Promise<CommandResult> => {
  const service = serviceNamed(cp.config, command.service);
  const head = {
    command: command.verb,
    capability: command.capability,
    service: service.name,
    mode: service.mode,
    values: command.values,
  };
  const request = moduleCommandOf(command).request(service, command.values, operator);
  const { decision, reports } = await planTransition(cp, service, request);
  const steps = describePlan(decision, reports);
  if (service.mode === 'dry-run') {
    const reason = `${service.name} is in dry-run mode: ${command.verb} only plans, nothing was changed`;
    return {
      exitCode: 1,
      lines: [`refused: ${reason}. The plan:`, ...steps.map((l) => `  ${l}`)],
      json: { ...head, outcome: { kind: 'refused', reason } },
    };
  }
  const verdict = await confirm({
    command: command.verb,
    service,
    headline: `${command.verb} ${command.values.join(' ')}: ${request.reason}`,
    steps,
    blocked: planBlocked(reports),
  });
  if (!verdict.go) return notConfirmed(verdict, head, { steps });
  const outcome = await requestTransition(cp, service, request);
  if (outcome.kind !== 'transitioned') {
    return {
      exitCode: outcome.kind === 'unchanged' ? 0 : 1,
      lines: [`${command.verb} ${service.name}: ${outcome.kind}: ${outcome.reason}`],
      json: { ...head, outcome },
    };
  }
  const done = allConverged(outcome.reports);
  return {
    exitCode: done ? 0 : 1,
    lines: [
      `${command.verb} ${service.name}: desired state is now epoch ${outcome.epoch}; ${request.reason}`,
      ...outcome.reports.map(formatReport),
      ...(done ? [] : [notDoneHint(service.name)]),
    ],
    json: {
      ...head,
      outcome: { kind: outcome.kind, epoch: outcome.epoch },
      reports: outcome.reports.map(reportView),
    },
  };
};
