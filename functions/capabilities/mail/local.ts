/**
 * The mail topology in the local AWS: the held-mail bucket, the SES receipt rule set and rule as
 * the stack declares them (not activated: the control plane does that), the state table, and a
 * control plane whose mail section points at a local SMTP primary. Held messages are placed the
 * way SES's receipt rule places them: its S3 action stores the raw MIME at <prefix><messageId>, then
 * its Lambda action invokes the recorder with the receipt event (shape: the SES developer guide,
 * "Lambda action event"). moto processes no inbound mail, so the harness does both, and says so.
 */
import { randomUUID } from 'node:crypto';
import { PutMetricAlarmCommand } from '@aws-sdk/client-cloudwatch';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateReceiptRuleCommand, CreateReceiptRuleSetCommand } from '@aws-sdk/client-ses';
import { type Config, parseConfig } from '../../config/schema';
import { localLambdaContext as lambdaContext } from '../../drill/lambda-context';
import {
  createSlackSecret,
  createStateTable,
  LOCAL_REGION,
  localControlPlaneInput,
} from '../../drill/local-aws';
import { harnessControlPlane, type LocalHarness, startHarness } from '../../drill/local-control-plane';
import type { ControlPlane } from '../../engine/engine';
import type { MailCapabilityOptions } from './capability';
import { heldMailPrefix, receiptRuleName, receiptRuleSetName } from './config';
import type { LocalPrimary } from './local-primary';
import type { RecordOutcome } from './recorder';
import { createMailRecorderHandler } from './recorder-handler';
import { MailStore } from './store';

export const MAIL_DOMAIN = 'shop.example.test';
export const MAIL_ALARM = 'shop-mail-primary-down';

export interface LocalMail extends LocalHarness {
  readonly config: Config;
  readonly bucket: string;
  readonly store: MailStore;
  controlPlane(): ControlPlane;
  /** SES's S3 action and then its Lambda action, for one inbound message. */
  receive(message: InboundMessage): Promise<RecordOutcome>;
}

export interface InboundMessage {
  readonly messageId: string;
  readonly receivedAt: Date;
  readonly mailFrom: string;
  readonly recipients: readonly string[];
  /** The raw MIME as SES stores it (its own Received/Return-Path headers first). */
  readonly raw: Buffer;
  readonly spam?: 'PASS' | 'FAIL' | 'GRAY' | 'PROCESSING_FAILED';
}

/** An SES message id: 20-40 lowercase letters and digits, unique per message. */
export const sesMessageId = (n: number): string =>
  `${n.toString(36).padStart(6, '0')}${randomUUID().replace(/-/g, '')}`.slice(0, 38);

/** A raw message as SES stores it: SES's own trace headers, then the message as the sender sent it. */
export const sesStoredMime = (options: {
  messageId: string;
  receivedAt: Date;
  from: string;
  to: string;
  subject: string;
  body: string | Buffer;
  headers?: string;
}): Buffer => {
  const head =
    `Return-Path: <${options.from}>\r\n` +
    `Received: from mail.sender.test (mail.sender.test [192.0.2.55]) by inbound-smtp.${LOCAL_REGION}.amazonaws.com ` +
    `with SMTP id ${options.messageId} for ${options.to}; ${options.receivedAt.toUTCString()}\r\n` +
    'X-SES-Spam-Verdict: PASS\r\nX-SES-Virus-Verdict: PASS\r\n' +
    `From: ${options.from}\r\nTo: ${options.to}\r\nSubject: ${options.subject}\r\n` +
    `Message-ID: <${options.messageId}@mail.sender.test>\r\nDate: ${options.receivedAt.toUTCString()}\r\n` +
    (options.headers ?? 'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n') +
    '\r\n';
  return Buffer.concat([
    Buffer.from(head, 'utf8'),
    Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body, 'utf8'),
  ]);
};

/** The receipt event SES hands a Lambda action (developer guide, "Lambda action event"). */
export const sesLambdaEvent = (message: InboundMessage, functionArn: string) => {
  const verdict = (status: string) => ({ status });
  return {
    Records: [
      {
        eventSource: 'aws:ses',
        eventVersion: '1.0',
        ses: {
          mail: {
            timestamp: message.receivedAt.toISOString(),
            source: message.mailFrom,
            messageId: message.messageId,
            destination: [...message.recipients],
            headersTruncated: false,
            headers: [
              { name: 'Return-Path', value: `<${message.mailFrom}>` },
              { name: 'Message-ID', value: `<${message.messageId}@mail.sender.test>` },
            ],
            commonHeaders: {
              returnPath: message.mailFrom,
              from: [message.mailFrom],
              date: message.receivedAt.toUTCString(),
              to: [...message.recipients],
              messageId: `<${message.messageId}@mail.sender.test>`,
              subject: 'held',
            },
          },
          receipt: {
            timestamp: message.receivedAt.toISOString(),
            processingTimeMillis: 412,
            recipients: [...message.recipients],
            spamVerdict: verdict(message.spam ?? 'PASS'),
            virusVerdict: verdict('PASS'),
            spfVerdict: verdict('PASS'),
            dkimVerdict: verdict('GRAY'),
            dmarcVerdict: verdict('GRAY'),
            dmarcPolicy: 'none',
            action: { type: 'Lambda', functionArn, invocationType: 'Event' },
          },
        },
      },
    ],
  };
};

export const mailConfig = (
  primary: Pick<LocalPrimary, 'host' | 'port'>,
  slackSecretName?: string,
  tls: 'none' | 'starttls' = 'none',
): Config =>
  parseConfig(
    {
      controlPlane: localControlPlaneInput(slackSecretName),
      services: [
        {
          name: 'shop',
          mode: 'auto',
          rtoMinutes: 5,
          alarms: [{ name: MAIL_ALARM, capabilities: ['mail'] }],
          mail: {
            domain: MAIL_DOMAIN,
            hostedZoneId: 'Z0LOCALMAIL',
            primary: { host: primary.host, port: primary.port, tls },
            retentionDays: 7,
          },
        },
      ],
    },
    'local mail config',
  );

/** Everything the mail tests and the drill need, on a freshly reset emulator. */
export const startLocalMail = async (
  endpoint: string,
  primary: Pick<LocalPrimary, 'host' | 'port'>,
  options: {
    readonly mail?: Partial<MailCapabilityOptions>;
    readonly maxAttempts?: number;
    /** How the control plane talks to the primary; the test primary (smtp-server) speaks plain SMTP. */
    readonly tls?: 'none' | 'starttls';
  } = {},
): Promise<LocalMail> => {
  const harness = await startHarness(endpoint, options.maxAttempts);
  const { clients, log } = harness;
  const config = mailConfig(
    primary,
    await createSlackSecret(clients.secrets, harness.sink.webhookUrl),
    options.tls,
  );
  await createStateTable(clients.dynamodb, config.controlPlane.stateTableName);
  const bucket = `understudy-held-mail-${Date.now()}`;
  await clients.s3.send(
    new CreateBucketCommand({
      Bucket: bucket,
      CreateBucketConfiguration: { LocationConstraint: LOCAL_REGION },
    }),
  );
  const ruleSet = receiptRuleSetName(config.controlPlane.stackName);
  const recorderArn = lambdaContext.invokedFunctionArn;
  await clients.ses.send(new CreateReceiptRuleSetCommand({ RuleSetName: ruleSet }));
  await clients.ses.send(
    new CreateReceiptRuleCommand({
      RuleSetName: ruleSet,
      Rule: {
        Name: receiptRuleName('shop'),
        Enabled: true,
        ScanEnabled: true,
        TlsPolicy: 'Optional',
        Recipients: [MAIL_DOMAIN],
        Actions: [
          { S3Action: { BucketName: bucket, ObjectKeyPrefix: heldMailPrefix('shop') } },
          // The stack's rule also has a Lambda action (the recorder). moto checks that the function
          // exists and would never invoke it anyway, so `receive` invokes the recorder itself.
        ],
      },
    }),
  );
  await clients.cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: MAIL_ALARM,
      Namespace: 'Mail',
      MetricName: 'PrimarySmtpUp',
      Statistic: 'Minimum',
      Period: 60,
      EvaluationPeriods: 2,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
    }),
  );
  const store = new MailStore(clients.dynamodb, config.controlPlane.stateTableName);
  const recorder = createMailRecorderHandler(() => ({ config, store, s3: clients.s3, bucket, log }));
  return {
    ...harness,
    config,
    bucket,
    store,
    controlPlane: harnessControlPlane(harness, config, { mail: { smtpTimeoutMs: 5_000, ...options.mail } }),
    async receive(message) {
      await clients.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${heldMailPrefix('shop')}${message.messageId}`,
          Body: message.raw,
        }),
      );
      return (await recorder(sesLambdaEvent(message, recorderArn), lambdaContext)) as RecordOutcome;
    },
  };
};
