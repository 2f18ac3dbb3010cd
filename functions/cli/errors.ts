import { CLI_NAME } from '../core/operator-command';

/** What the operator was doing when an AWS call failed, for the explanation. */
export interface ErrorContext {
  readonly region: string;
  readonly stateTableName: string;
  readonly stackName: string;
}

/** Every error in a cause chain, outermost first (the store and client kit wrap SDK errors). */
const chain = (error: unknown): unknown[] => {
  const seen: unknown[] = [];
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.includes(current) && seen.length < 10) {
    seen.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return seen;
};

const named = (error: unknown, names: readonly string[]): boolean =>
  chain(error).some((e) => e instanceof Error && names.includes(e.name));

const mentions = (error: unknown, text: string): boolean =>
  chain(error).some((e) => e instanceof Error && e.message.includes(text));

/**
 * The first line of an error, and what to do about it when the cause is a common one: a stack that
 * was never deployed (or another Region), and missing credentials. Undefined hint: no advice known.
 */
export const explainError = (error: unknown, context: ErrorContext): { message: string; hint?: string } => {
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? 'unknown error';
  if (named(error, ['ResourceNotFoundException']) && mentions(error, 'DynamoDB')) {
    return {
      message,
      hint:
        `the state table "${context.stateTableName}" does not exist in ${context.region}: deploy the control ` +
        `plane first (npx cdk deploy --all, with this config), or pass --region / fix controlPlane.region ` +
        `if it lives elsewhere`,
    };
  }
  if (named(error, ['ResourceNotFoundException'])) {
    return {
      message,
      hint: `a resource of stack "${context.stackName}" is missing in ${context.region}: was it deployed (npx cdk deploy --all)?`,
    };
  }
  if (
    named(error, ['CredentialsProviderError', 'ExpiredTokenException', 'ExpiredToken']) ||
    mentions(error, 'Could not load credentials')
  ) {
    return {
      message,
      hint:
        'no usable AWS credentials: set AWS_PROFILE to a profile with access to the control plane ' +
        '(run "aws sso login --profile <name>" if it uses SSO) or export AWS_ACCESS_KEY_ID and ' +
        `AWS_SECRET_ACCESS_KEY; AWS_REGION or --region picks the Region. Check with: ${CLI_NAME} status`,
    };
  }
  if (named(error, ['UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException'])) {
    return {
      message,
      hint: 'AWS rejected the credentials: check AWS_PROFILE (or AWS_ACCESS_KEY_ID) and the clock of this machine',
    };
  }
  return { message };
};
