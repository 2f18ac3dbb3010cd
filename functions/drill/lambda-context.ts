import type { Context } from 'aws-lambda';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './local-aws';

/** The Lambda context handlers get when tests and the drill invoke them in-process. */
export const localLambdaContext = {
  functionName: 'understudy-local',
  functionVersion: '$LATEST',
  invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:understudy-local`,
  memoryLimitInMB: '256',
  awsRequestId: 'local-request',
  logGroupName: '/aws/lambda/understudy-local',
  logStreamName: 'local',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => 60_000,
  done: () => undefined,
  fail: () => undefined,
  succeed: () => undefined,
} as Context;
