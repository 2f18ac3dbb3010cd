/**
 * Errors say whether trying again can help. A retryable error leaves the desired state as it was,
 * so the next scheduled run picks up; a terminal one needs a person and is reported as such.
 */
export class RetryableError extends Error {
  override readonly name: string = 'RetryableError';
  readonly retryable = true;
}

export class TerminalError extends Error {
  override readonly name: string = 'TerminalError';
  readonly retryable = false;
}

/** Someone else moved the desired state on; this step belongs to an older epoch and must not act. */
export class SupersededError extends TerminalError {
  override readonly name = 'SupersededError';
}

const RETRYABLE_AWS_ERRORS = new Set([
  'Throttling',
  'ThrottlingException',
  'PriorRequestNotComplete',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'ServiceUnavailable',
  'InternalFailure',
  'InternalServerError',
  'RequestTimeout',
  'TimeoutError',
]);

const TRANSIENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN']);

/** Classifies an AWS SDK (or network) failure, keeping it as the cause. */
export const classifyAwsError = (operation: string, error: unknown): RetryableError | TerminalError => {
  if (error instanceof RetryableError || error instanceof TerminalError) return error;
  const name = error instanceof Error ? error.name : 'UnknownError';
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  const message = `${operation} failed: ${name}: ${error instanceof Error ? error.message : String(error)}`;
  const retryable =
    RETRYABLE_AWS_ERRORS.has(name) ||
    (status !== undefined && status >= 500) ||
    (error as { $retryable?: unknown })?.$retryable !== undefined ||
    name === 'AbortError' ||
    TRANSIENT_NETWORK_CODES.has((error as NodeJS.ErrnoException)?.code ?? '');
  return retryable
    ? new RetryableError(message, { cause: error })
    : new TerminalError(message, { cause: error });
};
