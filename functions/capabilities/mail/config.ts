import * as z from 'zod';
import { awsRegion, hostedZoneId } from '../../config/fields';

/**
 * The `mail` section of a service: SES as the backup MX of one mail domain. SES accepts and holds
 * inbound mail (raw MIME in S3) while the primary mail server is down, and the control plane hands
 * it back over SMTP once the primary's alarm is OK and it answers SMTP again.
 */

/**
 * Built on first use (`z.lazy`): constructing every schema is about a fifth of a Lambda
 * function's module init, and the functions never parse a config (synth validated it; see
 * functions/runtime/bundled-config.ts). Only synth and the CLI pay for it.
 */
export const mailSection = z.lazy(() => {
  const hostName = z
    .string()
    .min(1)
    .max(253)
    .regex(/^([a-zA-Z0-9_-]{1,63}\.)*[a-zA-Z0-9_-]{1,63}\.?$/, 'must be a host name such as mx1.example.com')
    .transform((name) => name.replace(/\.$/, '').toLowerCase());

  const mailDomain = z
    .string()
    .min(1)
    .max(253)
    .regex(/^([a-zA-Z0-9-]{1,63}\.)+[a-zA-Z0-9-]{1,63}\.?$/, 'must be a mail domain such as example.com')
    .transform((name) => name.replace(/\.$/, '').toLowerCase());

  return z
    .strictObject({
      /** The domain whose inbound mail SES holds; SES's receipt rule matches every recipient at it. */
      domain: mailDomain,
      /** The Route 53 hosted zone that holds the domain's MX records. */
      hostedZoneId,
      /**
       * `create`: the stack writes the domain's MX record set (primary first, SES second). They never
       * flip, so CloudFormation may own them. `external`: you publish the SES backup MX yourself.
       */
      mxRecords: z.enum(['create', 'external']).default('create'),
      mxTtl: z.number().int().min(60).max(86_400).default(3600),
      primary: z.strictObject({
        /** The primary mail server: its MX host, and where held mail is handed back to. */
        host: hostName,
        port: z.number().int().min(1).max(65_535).default(25),
        /**
         * `starttls`: upgrade with STARTTLS and verify the certificate, or do not deliver (held mail
         * never crosses the network in clear text); `implicit`: TLS from the first byte (port 465);
         * `none`: plain SMTP, only for a primary on a private network.
         */
        tls: z.enum(['starttls', 'implicit', 'none']).default('starttls'),
        /** MX preference of the primary; lower is preferred. */
        mxPriority: z.number().int().min(0).max(65_535).default(10),
      }),
      /** MX preference of the SES backup; must be higher (less preferred) than the primary's. */
      backupMxPriority: z.number().int().min(0).max(65_535).default(20),
      /**
       * The Region whose SES inbound endpoint (inbound-smtp.<region>.amazonaws.com) is the backup MX.
       * It must be the control plane's Region (the bucket, rule set and recorder live in its stack).
       * @default controlPlane.region
       */
      inboundRegion: awsRegion.optional(),
      /** Days a delivered message stays in S3 after its delivery before it is deleted. */
      retentionDays: z.number().int().min(1).max(3650).default(7),
      /** How often the held-mail backlog is posted to Slack while the primary is down. */
      backlogReportMinutes: z
        .number()
        .int()
        .min(5)
        .max(24 * 60)
        .default(60),
    })
    .superRefine((mail, ctx) => {
      if (mail.backupMxPriority <= mail.primary.mxPriority) {
        ctx.addIssue({
          code: 'custom',
          path: ['backupMxPriority'],
          message: `must be higher than primary.mxPriority (${mail.primary.mxPriority}): senders must try the primary first`,
        });
      }
    });
});

export type MailConfig = z.output<typeof mailSection>;

/** Checks that span services and the control plane, for the config schema's top-level refinement. */
export const mailConfigIssues = (config: {
  readonly controlPlane: { readonly region: string; readonly stackName: string };
  readonly services: readonly { readonly name: string; readonly mail?: MailConfig | undefined }[];
}): { path: (string | number)[]; message: string }[] => {
  const issues: { path: (string | number)[]; message: string }[] = [];
  const domains = new Map<string, number>();
  // The stack names each service's SES invoke permission after its name without dashes (infra.ts):
  // `shop-mail` and `shopmail` would be one construct id, and CDK stops with a stack trace.
  const permissionNames = new Map<string, string>();
  const ruleSet = receiptRuleSetName(config.controlPlane.stackName);
  if (config.services.some((svc) => svc.mail) && ruleSet.length > SES_NAME_LIMIT) {
    issues.push({
      path: ['controlPlane', 'stackName'],
      message: `is ${config.controlPlane.stackName.length} characters: the SES receipt rule set "${ruleSet}" would be ${ruleSet.length}, over SES's ${SES_NAME_LIMIT}; use at most ${SES_NAME_LIMIT - '-held-mail'.length}`,
    });
  }
  // The held-mail bucket's policy grows by one statement per mail service (infra.ts): past S3's
  // limit the template synthesizes and the deploy fails, so the service that tips it is refused.
  let policyBytes = HELD_MAIL_POLICY_BASE_BYTES;
  let overPolicy = false;
  config.services.forEach((svc, i) => {
    const mail = svc.mail;
    if (!mail) return;
    policyBytes += heldMailStatementBytes(config.controlPlane.stackName, svc.name);
    if (!overPolicy && policyBytes > BUCKET_POLICY_LIMIT_BYTES) {
      overPolicy = true;
      const count = config.services.filter((s) => s.mail).length;
      issues.push({
        path: ['services', i, 'mail'],
        message: `the held-mail bucket's policy would be over S3's ${BUCKET_POLICY_LIMIT_BYTES} bytes from this service on (one statement of about ${heldMailStatementBytes(config.controlPlane.stackName, svc.name)} bytes per service holding mail, longer with longer service and stack names; ${count} configured): hold mail for fewer services in one control plane, or split the runbook across two`,
      });
    }
    if (mail.inboundRegion !== undefined && mail.inboundRegion !== config.controlPlane.region) {
      issues.push({
        path: ['services', i, 'mail', 'inboundRegion'],
        message: `must be the control plane's Region (${config.controlPlane.region}): the held-mail bucket, receipt rule set and recorder are deployed in its stack`,
      });
    }
    const rule = receiptRuleName(svc.name);
    if (rule.length > SES_NAME_LIMIT) {
      issues.push({
        path: ['services', i, 'name'],
        message: `the SES receipt rule "${rule}" would be ${rule.length} characters, over SES's ${SES_NAME_LIMIT}`,
      });
    }
    const permission = recorderPermissionId(svc.name);
    const same = permissionNames.get(permission);
    if (same !== undefined) {
      issues.push({
        path: ['services', i, 'name'],
        message: `"${svc.name}" and "${same}" both hold mail and differ only in dashes: the stack names each one's SES permission after its name without dashes; rename one`,
      });
    } else {
      permissionNames.set(permission, svc.name);
    }
    const owner = domains.get(mail.domain);
    if (owner !== undefined) {
      issues.push({
        path: ['services', i, 'mail', 'domain'],
        message: `${mail.domain} is already held for services.${owner}; one domain, one owner`,
      });
    } else {
      domains.set(mail.domain, i);
    }
  });
  return issues;
};

/** The SES Region that receives the domain's mail when the primary does not answer. */
export const inboundRegionOf = (mail: MailConfig, controlPlaneRegion: string): string =>
  mail.inboundRegion ?? controlPlaneRegion;

/** S3's limit for a bucket policy, in bytes. */
const BUCKET_POLICY_LIMIT_BYTES = 20_480;
/**
 * The held-mail bucket policy as the stack renders it (infra.ts): the TLS-only statement, then one
 * statement per service letting SES write its prefix for its rule only, which names the service twice
 * (prefix and rule) and the stack once (the rule set). Measured with room to spare;
 * test/infra/mail-stack.test.ts checks the estimate never falls short of the rendered policy.
 */
const HELD_MAIL_POLICY_BASE_BYTES = 320;
export const heldMailStatementBytes = (stackName: string, service: string): number =>
  420 + 2 * service.length + stackName.length;
/** The estimated size of the held-mail bucket policy for these services. */
export const heldMailPolicyBytes = (stackName: string, services: readonly string[]): number =>
  services.reduce((sum, name) => sum + heldMailStatementBytes(stackName, name), HELD_MAIL_POLICY_BASE_BYTES);

/** SES's limit for receipt rule set and rule names. */
const SES_NAME_LIMIT = 64;

/** Names shared by the stack (which creates them) and the reconciler (which keeps them enabled). */
export const receiptRuleSetName = (stackName: string): string => `${stackName}-held-mail`;
export const receiptRuleName = (service: string): string => `${service}-hold`;
/** Where SES stores the raw messages of one service (the S3 action's object key prefix). */
export const heldMailPrefix = (service: string): string => `held/${service}/`;
/** The construct id of the permission that lets a service's receipt rule invoke the recorder. */
export const recorderPermissionId = (service: string): string =>
  `InvokeBy${service.replace(/[^a-zA-Z0-9]/g, '')}Rule`;
