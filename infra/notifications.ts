import { Validations } from 'aws-cdk-lib';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import type { Config } from '../functions/config/schema';

export interface NotificationsProps {
  readonly config: Config;
}

/**
 * Where the Slack incoming-webhook URL lives. The URL is a credential: it never appears in the
 * template, the environment or the bundle. Functions get the secret's ARN and read access; the
 * runtime treats a value that is not an https URL (such as the generated placeholder) as "Slack
 * not configured" and only logs.
 */
export class Notifications extends Construct {
  readonly webhookSecret: ISecret;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    const existing = props.config.controlPlane.slackWebhookSecretName;
    if (existing) {
      this.webhookSecret = Secret.fromSecretNameV2(this, 'SlackWebhook', existing);
      return;
    }
    const created = new Secret(this, 'SlackWebhook', {
      description:
        'understudy: replace this generated placeholder with the Slack incoming-webhook URL (the whole https URL as the plain secret value). Until then notifications are only logged.',
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
    });
    Validations.of(created).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'A Slack incoming-webhook URL is issued by Slack and cannot be rotated by a Lambda rotation function; it is replaced by hand when Slack revokes it.',
    });
    this.webhookSecret = created;
  }

  /** Lets a function find and read the webhook secret. */
  notifyFrom(fn: LambdaFunction): void {
    fn.addEnvironment('SLACK_WEBHOOK_SECRET_ARN', this.webhookSecret.secretArn);
    this.webhookSecret.grantRead(fn);
  }
}
