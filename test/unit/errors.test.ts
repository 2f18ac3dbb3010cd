import { describe, expect, it } from 'vitest';
import {
  classifyAwsError,
  RetryableError,
  SupersededError,
  TerminalError,
} from '../../functions/core/errors';

/** An error shaped like an AWS SDK v3 service exception. */
const awsError = (name: string, httpStatusCode: number, message = `${name} happened`) =>
  Object.assign(new Error(message), {
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
  });

/** An error shaped like a Node socket failure. */
const socketError = (code: string) => Object.assign(new Error(`read ${code}`), { code });

describe('classifyAwsError', () => {
  it.each([
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
  ])('treats %s (HTTP 400) as retryable', (name) => {
    // Act
    const classified = classifyAwsError('Route 53 ChangeResourceRecordSets', awsError(name, 400));

    // Assess
    expect(classified).toBeInstanceOf(RetryableError);
    expect(classified.retryable).toBe(true);
  });

  it('keeps the operation, name and message in its message and the original as its cause', () => {
    // Prepare
    const original = awsError('Throttling', 400, 'Rate exceeded');

    // Act
    const classified = classifyAwsError('Route 53 GetChange', original);

    // Assess
    expect(classified.message).toBe('Route 53 GetChange failed: Throttling: Rate exceeded');
    expect(classified.cause).toBe(original);
  });

  it.each([500, 502, 503, 504])('treats an unknown error with HTTP %i as retryable', (status) => {
    // Act
    const classified = classifyAwsError('DynamoDB PutItem', awsError('SomethingOdd', status));

    // Assess
    expect(classified.retryable).toBe(true);
  });

  it.each(['ECONNRESET', 'ECONNREFUSED'])('treats a %s socket error as retryable', (code) => {
    // Act
    const classified = classifyAwsError('Route 53 ListResourceRecordSets', socketError(code));

    // Assess
    expect(classified).toBeInstanceOf(RetryableError);
    expect(classified.cause).toMatchObject({ code });
  });

  it('treats an aborted request as retryable', () => {
    // Prepare
    const aborted = Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });

    // Act + Assess
    expect(classifyAwsError('op', aborted).retryable).toBe(true);
  });

  it('treats an error the SDK marked $retryable as retryable', () => {
    // Prepare
    const marked = Object.assign(awsError('ModeledButRetryable', 400), { $retryable: { throttling: false } });

    // Act + Assess
    expect(classifyAwsError('op', marked).retryable).toBe(true);
  });

  it.each([
    ['AccessDenied', 403],
    ['AccessDeniedException', 400],
    ['InvalidChangeBatch', 400],
    ['NoSuchHostedZone', 404],
    ['ValidationException', 400],
  ])('treats %s (HTTP %i) as terminal', (name, status) => {
    // Prepare
    const original = awsError(name, status);

    // Act
    const classified = classifyAwsError('Route 53 ChangeResourceRecordSets', original);

    // Assess
    expect(classified).toBeInstanceOf(TerminalError);
    expect(classified.retryable).toBe(false);
    expect(classified.message).toBe(`Route 53 ChangeResourceRecordSets failed: ${name}: ${name} happened`);
    expect(classified.cause).toBe(original);
  });

  it('classifies something that is not an Error at all as terminal, without crashing', () => {
    // Act
    const fromString = classifyAwsError('op', 'boom');
    const fromNull = classifyAwsError('op', null);

    // Assess
    expect(fromString).toBeInstanceOf(TerminalError);
    expect(fromString.message).toBe('op failed: UnknownError: boom');
    expect(fromNull.message).toBe('op failed: UnknownError: null');
  });

  it('returns an already classified error as it is', () => {
    // Prepare
    const retryable = new RetryableError('Route 53 GetChange failed: Throttling');
    const superseded = new SupersededError('epoch moved on');

    // Act + Assess
    expect(classifyAwsError('outer', retryable)).toBe(retryable);
    expect(classifyAwsError('outer', superseded)).toBe(superseded);
    expect(superseded.retryable).toBe(false);
    expect(superseded.name).toBe('SupersededError');
  });
});
