import type { IntentDecision } from '../state/intent';
import type { CapabilityReport } from './engine';

/** Human-readable plan: the desired-state write, then every AWS call with its reason. */
export const describePlan = (decision: IntentDecision, reports: readonly CapabilityReport[]): string[] => {
  const lines: string[] = [];
  if (decision.kind === 'transition') {
    const sites = [
      ...new Set(decision.changed.map((c) => decision.next.capabilities[c]?.active ?? 'primary')),
    ];
    lines.push(
      `dynamodb:PutItem desired state -> epoch ${decision.next.epoch}, ${decision.changed.join(', ')} on the ` +
        `${sites.join('/')} (conditional on the current epoch)`,
    );
  } else {
    lines.push(`no desired-state change: ${decision.reason}`);
  }
  for (const report of reports) {
    const plan = report.plan;
    if (!plan) {
      lines.push(`${report.capability}: ${report.phase}: ${report.detail}`);
    } else if (plan.kind === 'act') {
      for (const action of plan.actions) {
        lines.push(`${report.capability}: ${action.api} because ${action.reason}`);
        lines.push(`    ${JSON.stringify(action.params)}`);
      }
    } else {
      lines.push(`${report.capability}: ${plan.kind}: ${plan.detail}`);
    }
  }
  return lines;
};
