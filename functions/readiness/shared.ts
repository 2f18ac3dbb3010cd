import type { Config } from '../config/schema';
import { parseWebhookUrl } from '../notify/slack';
import type { ClientKit } from '../runtime/client-kit';
import { sdkErrorName } from '../runtime/client-kit';
import {
  notReady,
  type ReadinessDirection,
  type ReadinessFinding,
  type RequiredCall,
  ready,
  skipped,
} from './finding';

/**
 * The readiness checks every service shares, on AWS: the Slack secret (people are told through it),
 * and the functions' IAM rights for the calls the capabilities' moves would make. Reads only; each
 * client is loaded on first use.
 */
export interface SharedChecks {
  /** The Slack secret is set and holds a webhook URL the notifier would post to. */
  slack(): Promise<ReadinessFinding>;
  /** Whether the roles that act may make these calls; one finding per direction with calls. */
  permissions(calls: readonly RequiredCall[]): Promise<ReadinessFinding[]>;
}

/** One line of an error, without the SDK's stack or HTML bodies. */
export const errorLine = (error: unknown): string =>
  clipLine((error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '', 200);

const clipLine = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

/** The Slack check: the secret exists and its value is a webhook URL the notifier accepts. */
export const slackSecretCheck =
  (config: Config, clients: ClientKit, secretId?: string) => async (): Promise<ReadinessFinding> => {
    const configured = config.controlPlane.slackWebhookSecretName;
    const id = secretId ?? configured;
    const direction: ReadinessDirection = 'failover';
    if (id === undefined) {
      return notReady(
        direction,
        'slack-secret',
        'controlPlane.slackWebhookSecretName is not set: nobody would be told about a failover',
      );
    }
    // The secret's name for people: the configured one, else the last part of the ARN.
    const name = configured ?? id.split(':').at(-1) ?? id;
    const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
    try {
      const out = await clients
        .client(SecretsManagerClient)
        .send(new GetSecretValueCommand({ SecretId: id }));
      const verdict = parseWebhookUrl(out.SecretString);
      return verdict.ok
        ? ready(direction, 'slack-secret', `secret ${name} holds a Slack webhook URL`)
        : notReady(
            direction,
            'slack-secret',
            `secret ${name} holds no usable Slack webhook URL: ${verdict.reason}`,
          );
    } catch (error) {
      if (sdkErrorName(error) === 'ResourceNotFoundException') {
        return notReady(direction, 'slack-secret', `secret ${name} does not exist`);
      }
      return notReady(direction, 'slack-secret', `secret ${name} could not be read: ${errorLine(error)}`);
    }
  };

/** IAM's SimulatePrincipalPolicy, as the permission check uses it (a client-mock test stubs it). */
export type Simulate = (input: {
  readonly role: string;
  readonly actions: readonly string[];
  readonly resource: string;
  readonly context: RequiredCall['context'];
}) => Promise<readonly { readonly action: string; readonly allowed: boolean; readonly decision: string }[]>;

/** SimulatePrincipalPolicy on the container's IAM client, every page of the answer. */
export const iamSimulate =
  (clients: ClientKit): Simulate =>
  async ({ role, actions, resource, context }) => {
    const { IAMClient, SimulatePrincipalPolicyCommand } = await import('@aws-sdk/client-iam');
    const iam = clients.client(IAMClient);
    const results: { action: string; allowed: boolean; decision: string }[] = [];
    let marker: string | undefined;
    do {
      const out = await iam.send(
        new SimulatePrincipalPolicyCommand({
          PolicySourceArn: role,
          ActionNames: [...actions],
          ResourceArns: [resource],
          ContextEntries: Object.entries(context ?? {}).map(([key, value]) => ({
            ContextKeyName: key,
            ContextKeyValues: typeof value === 'string' ? [value] : [...value],
            ContextKeyType: typeof value === 'string' ? 'string' : 'stringList',
          })),
          Marker: marker,
        }),
      );
      for (const result of out.EvaluationResults ?? []) {
        const decision = result.EvalDecision ?? 'unknown';
        results.push({ action: result.EvalActionName ?? '', allowed: decision === 'allowed', decision });
      }
      marker = out.IsTruncated ? out.Marker : undefined;
    } while (marker);
    return results;
  };

/**
 * Why a simulation could not be made, in one line. An endpoint that does not implement the call (a
 * local emulator answers HTTP 500 with an HTML page, which the SDK cannot parse) is named as such.
 */
const whyNot = (error: unknown): string => {
  const cause = (error as { cause?: unknown })?.cause ?? error;
  const status = (cause as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const text = errorLine(error);
  if (/parse error|Unexpected token|not valid JSON|mismatched tag/i.test(text) || status === 501) {
    return 'the IAM endpoint does not implement SimulatePrincipalPolicy (no answer it could parse)';
  }
  return text;
};

/** The role's name from its ARN, for one-line reasons. */
const roleName = (arn: string): string => arn.split('/').at(-1) ?? arn;

/**
 * The IAM check: each role that acts (the reconcile workers' and the alarm function's) simulated on
 * every call a move would make. Denied calls make the direction not ready; a simulation that cannot
 * be made (no role known, IAM or the emulator not answering) is skipped and says why.
 */
export const permissionCheck = (roles: readonly string[], uncached: Simulate) => {
  // One simulation per role, actions, resource and context per evaluation: services that share a
  // hosted zone or a target group ask IAM once.
  const answers = new Map<string, ReturnType<Simulate>>();
  const simulate: Simulate = (input) => {
    const key = JSON.stringify([input.role, input.actions, input.resource, input.context ?? {}]);
    let answer = answers.get(key);
    if (!answer) {
      answer = uncached(input);
      answer.catch(() => answers.delete(key));
      answers.set(key, answer);
    }
    return answer;
  };
  return async (calls: readonly RequiredCall[]): Promise<ReadinessFinding[]> => {
    const directions = [...new Set(calls.map((c) => c.direction))];
    if (directions.length === 0) return [];
    if (roles.length === 0) {
      return directions.map((d) =>
        skipped(
          d,
          'permissions',
          'no role to simulate is known here (the deployed readiness function checks them)',
        ),
      );
    }
    const findings: ReadinessFinding[] = [];
    for (const direction of directions) {
      const mine = calls.filter((c) => c.direction === direction);
      // One simulation per resource and context: its actions together.
      const groups = new Map<
        string,
        { resource: string; context: RequiredCall['context']; actions: Set<string> }
      >();
      for (const call of mine) {
        const key = JSON.stringify([call.resource, call.context ?? {}]);
        const group = groups.get(key) ?? {
          resource: call.resource,
          context: call.context,
          actions: new Set(),
        };
        group.actions.add(call.action);
        groups.set(key, group);
      }
      const denied: string[] = [];
      try {
        for (const role of roles) {
          for (const group of groups.values()) {
            const results = await simulate({
              role,
              actions: [...group.actions],
              resource: group.resource,
              context: group.context,
            });
            for (const result of results.filter((r) => !r.allowed)) {
              denied.push(
                `${roleName(role)} may not ${result.action} on ${group.resource} (${result.decision})`,
              );
            }
          }
        }
      } catch (error) {
        findings.push(
          skipped(direction, 'permissions', `could not simulate the roles' policies: ${whyNot(error)}`),
        );
        continue;
      }
      findings.push(
        denied.length > 0
          ? notReady(direction, 'permissions', clipLine(denied.join('; '), 280))
          : ready(
              direction,
              'permissions',
              `${roles.map(roleName).join(', ')} may make the ${mine.length} call(s) a ${direction} makes`,
            ),
      );
    }
    return findings;
  };
};

/** The shared checks on AWS: the Slack secret, and the acting roles named in `roles` simulated. */
export const awsSharedChecks = (
  config: Config,
  clients: ClientKit,
  roles: readonly string[],
  /** The Slack secret's ARN, when known (a Lambda's environment); default: the config's name. */
  slackSecretId?: string,
): SharedChecks => ({
  slack: slackSecretCheck(config, clients, slackSecretId),
  permissions: permissionCheck(roles, iamSimulate(clients)),
});
