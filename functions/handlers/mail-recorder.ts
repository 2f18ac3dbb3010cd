import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import * as z from 'zod';
import { parseConfig } from '../config/schema';
import { type RecorderDependencies, recordHeldMail } from '../mail/recorder';
import { MailStore } from '../mail/store';
import { logger } from '../runtime/lambda';

/** Bundled at synth time, like every control plane function (see functions/runtime/lambda.ts). */
declare const __UNDERSTUDY_CONFIG__: string | undefined;

const recorderEnvironment = z.object({
  AWS_REGION: z.string().min(1),
  HELD_MAIL_BUCKET: z.string().min(3),
});

let coldStart: RecorderDependencies | undefined;

/** Validates environment and config once per container; clients are reused across invocations. */
const defaultDependencies = (): RecorderDependencies => {
  if (coldStart) return coldStart;
  const env = recorderEnvironment.parse(process.env);
  if (typeof __UNDERSTUDY_CONFIG__ !== 'string') {
    throw new Error('this bundle carries no understudy config: build it with the understudy CDK stack');
  }
  const config = parseConfig(JSON.parse(__UNDERSTUDY_CONFIG__), 'bundled understudy config');
  coldStart = {
    config,
    store: new MailStore(new DynamoDBClient({ region: env.AWS_REGION }), config.controlPlane.stateTableName),
    s3: new S3Client({ region: env.AWS_REGION }),
    bucket: env.HELD_MAIL_BUCKET,
    log: logger,
  };
  return coldStart;
};

/** SES receipt rule (Lambda action, after the S3 action) -> a held-mail record per message. */
export const createMailRecorderHandler = (dependencies: () => RecorderDependencies) =>
  middy(async (event: unknown) => recordHeldMail(dependencies(), event)).use(injectLambdaContext(logger));

export const handler = createMailRecorderHandler(defaultDependencies);
