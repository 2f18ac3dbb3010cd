import type { ClientKit } from '../runtime/client-kit';
import { powertoolsMetricPublisher } from '../runtime/metrics';
import type { RecoveryRecorder } from './recovery';

/** The CloudWatch namespace of the control plane's own metrics (defined in functions/core/metrics.ts). */
export { METRICS_NAMESPACE } from '../core/metrics';

/**
 * The report bucket's console link, not a presigned URL: a presigned URL signed with the function's
 * role credentials dies with them (hours), and anyone the Slack message reaches could open it while it
 * lives; the console link asks for AWS sign-in and the bucket's IAM permissions, and lives as long as
 * the object (the bucket's lifecycle rules).
 */
export const consoleLink = (region: string, bucket: string, key: string): string =>
  `https://${region}.console.aws.amazon.com/s3/object/${encodeURIComponent(bucket)}?region=${region}&bucketType=general&prefix=${encodeURIComponent(key)}`;

/**
 * A Lambda's recovery recorder: the report into the stack's bucket, the metric through Powertools
 * Metrics (functions/runtime/metrics.ts, the engine metrics' publisher too). S3 and Metrics are
 * loaded when a recovery is first measured, not at init.
 */
export const lambdaRecoveryRecorder = (
  clients: ClientKit,
  bucket: string | undefined,
  region: string,
): RecoveryRecorder => ({
  async metric(service, seconds, rtoMinutes) {
    const dimensions = { Service: service };
    await powertoolsMetricPublisher([
      { name: 'RecoveryTimeSeconds', unit: 'Seconds', value: seconds, dimensions },
      ...(rtoMinutes === undefined
        ? []
        : [
            {
              name: 'RecoveryTimeObjectiveSeconds',
              unit: 'Seconds' as const,
              value: rtoMinutes * 60,
              dimensions,
            },
            {
              name: 'RecoveryOverObjective',
              unit: 'Count' as const,
              value: seconds > rtoMinutes * 60 ? 1 : 0,
              dimensions,
            },
          ]),
    ]);
  },
  ...(bucket !== undefined && {
    async store(key: string, html: string, json: string) {
      const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
      const s3 = clients.client(S3Client);
      await Promise.all([
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${key}.html`,
            Body: html,
            ContentType: 'text/html; charset=utf-8',
          }),
        ),
        s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: `${key}.json`,
            Body: json,
            ContentType: 'application/json',
          }),
        ),
      ]);
      return consoleLink(region, bucket, `${key}.html`);
    },
  }),
});
