import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  type Route53Client,
} from '@aws-sdk/client-route-53';
import type { Clock } from '../core/clock';

export interface ChangeVerify {
  /** How many GetChange reads one run makes before leaving a PENDING change to the next run. */
  readonly verifyAttempts: number;
  readonly verifyIntervalMs: number;
}

export type ChangeStatus = 'PENDING' | 'INSYNC';

/** One change's status, as Route 53 reports it. */
export const readChange = async (route53: Route53Client, id: string): Promise<ChangeStatus> => {
  const out = await route53.send(new GetChangeCommand({ Id: id }));
  return out.ChangeInfo?.Status === 'INSYNC' ? 'INSYNC' : 'PENDING';
};

/**
 * Every Route 53 write of the control plane: one change batch, then verified within this run,
 * bounded; a slower propagation is left PENDING (with its id) for the next run to verify.
 * `verify: false` writes without waiting (e.g. a fence that a minutes-long promotion follows).
 */
export const changeRecordSets = async (
  route53: Route53Client,
  clock: Clock,
  batch: { readonly hostedZoneId: string; readonly comment: string; readonly changes: readonly Change[] },
  verify: ChangeVerify | false,
): Promise<{ readonly changeId: string; readonly status: ChangeStatus }> => {
  const out = await route53.send(
    new ChangeResourceRecordSetsCommand({
      HostedZoneId: batch.hostedZoneId,
      ChangeBatch: { Comment: batch.comment, Changes: [...batch.changes] },
    }),
  );
  const changeId = out.ChangeInfo?.Id ?? '';
  if (verify === false) return { changeId, status: 'PENDING' };
  for (let attempt = 0; attempt < verify.verifyAttempts; attempt++) {
    if (attempt > 0) await clock.sleep(verify.verifyIntervalMs);
    if ((await readChange(route53, changeId)) === 'INSYNC') return { changeId, status: 'INSYNC' };
  }
  return { changeId, status: 'PENDING' };
};
