import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import * as z from 'zod';
import { bundledConfig, logger } from '../../runtime/bundled-config';
import type { RecorderDependencies } from './recorder';
import { MailStore } from './store';

const recorderEnvironment = z.object({
  AWS_REGION: z.string().min(1),
  HELD_MAIL_BUCKET: z.string().min(3),
});

let coldStart: RecorderDependencies | undefined;

/**
 * Validates environment and config once per container; clients are reused across invocations. S3's
 * client is loaded at the first message, not at init (test/bench/init-time.ts measures init).
 */
const defaultDependencies = async (): Promise<RecorderDependencies> => {
  if (coldStart) return coldStart;
  const env = recorderEnvironment.parse(process.env);
  const config = bundledConfig();
  const { S3Client } = await import('@aws-sdk/client-s3');
  coldStart ??= {
    config,
    store: new MailStore(new DynamoDBClient({ region: env.AWS_REGION }), config.controlPlane.stateTableName),
    s3: new S3Client({ region: env.AWS_REGION }),
    bucket: env.HELD_MAIL_BUCKET,
    log: logger,
  };
  return coldStart;
};

/** SES receipt rule (Lambda action, after the S3 action) -> a held-mail record per message. */
export const createMailRecorderHandler = (
  dependencies: () => RecorderDependencies | Promise<RecorderDependencies>,
) =>
  middy(async (event: unknown) => {
    // The recorder and S3's client load with the first message, not at init.
    const { recordHeldMail } = await import('./recorder');
    return recordHeldMail(await dependencies(), event);
  }).use(injectLambdaContext(logger));

export const handler = createMailRecorderHandler(defaultDependencies);
