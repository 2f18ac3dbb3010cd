import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import middy from '@middy/core';
import * as z from 'zod';
import { bundledConfig, logger } from '../../runtime/bundled-config';
import { type RecorderDependencies, recordHeldMail } from './recorder';
import { MailStore } from './store';

const recorderEnvironment = z.object({
  AWS_REGION: z.string().min(1),
  HELD_MAIL_BUCKET: z.string().min(3),
});

let coldStart: RecorderDependencies | undefined;

/** Validates environment and config once per container; clients are reused across invocations. */
const defaultDependencies = (): RecorderDependencies => {
  if (coldStart) return coldStart;
  const env = recorderEnvironment.parse(process.env);
  const config = bundledConfig();
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
