import { Duration, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';

/**
 * A queue where undeliverable events or failed invocations wait for a person. Its own class so the
 * operator alarms (infra/operator-alarms.ts) find every one of them by walking the construct tree.
 */
export class DeadLetterQueue extends Queue {}

/**
 * Where undeliverable events or failed invocations wait for a person: encrypted, TLS only, kept 14
 * days. `holds` says what ends up there, for the cdk-nag acknowledgement.
 */
export const deadLetterQueue = (scope: Construct, id: string, holds: string): DeadLetterQueue => {
  const queue = new DeadLetterQueue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  const reason = `This queue is itself the dead-letter queue for ${holds}; a DLQ of a DLQ would only hide them further.`;
  Validations.of(queue.node.defaultChild ?? queue).acknowledge(
    { id: 'AwsSolutions-SQS3', reason },
    { id: 'Serverless-SQSRedrivePolicy', reason },
  );
  return queue;
};
