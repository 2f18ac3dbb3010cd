import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

/** Who the operator's credentials are: shown before anything changes, and checked against the config. */
export interface CallerIdentity {
  readonly account: string;
  readonly arn: string;
}

/** STS GetCallerIdentity in the control plane's Region; the endpoint comes from the SDK's configuration. */
export const stsCallerIdentity = async (region: string): Promise<CallerIdentity> => {
  const client = new STSClient({ region, maxAttempts: 2 });
  try {
    const answer = await client.send(new GetCallerIdentityCommand({}));
    return { account: answer.Account ?? 'unknown', arn: answer.Arn ?? 'unknown' };
  } finally {
    client.destroy();
  }
};
