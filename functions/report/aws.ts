import type { ClientKit } from '../runtime/client-kit';
import type { RecoveryRecorder } from './recovery';

/** The CloudWatch namespace of the control plane's own metrics. */
export const METRICS_NAMESPACE = 'Understudy';

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
 * Metrics (CloudWatch embedded metric format in the function's log: no call, no client). S3 and
 * Metrics are loaded when a recovery is first measured, not at init.
 */
export const lambdaRecoveryRecorder = (
  clients: ClientKit,
  bucket: string | undefined,
  region: string,
): RecoveryRecorder => ({
  async metric(service, seconds, rtoMinutes) {
    const { Metrics, MetricUnit } = await import('@aws-lambda-powertools/metrics');
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'understudy' });
    metrics.addDimension('Service', service);
    metrics.addMetric('RecoveryTimeSeconds', MetricUnit.Seconds, seconds);
    if (rtoMinutes !== undefined) {
      metrics.addMetric('RecoveryTimeObjectiveSeconds', MetricUnit.Seconds, rtoMinutes * 60);
      metrics.addMetric('RecoveryOverObjective', MetricUnit.Count, seconds > rtoMinutes * 60 ? 1 : 0);
    }
    metrics.publishStoredMetrics();
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
