import {
  DescribeReceiptRuleSetCommand,
  GetIdentityVerificationAttributesCommand,
  SESClient,
} from '@aws-sdk/client-ses';
import type { ServiceConfig } from '../../config/schema';
import { classifyAwsError } from '../../core/errors';
import type { CapabilityContext } from '../../engine/module';
import type { CapabilityReadiness, ReadinessInput } from '../../readiness/finding';
import { sdkErrorName } from '../../runtime/client-kit';
import { inboundRegionOf, receiptRuleName, receiptRuleSetName } from './config';
import { assessMail, type MailReadinessObserved } from './readiness';

const RULE_SET_MISSING = new Set(['RuleSetDoesNotExistException', 'RuleSetDoesNotExist']);

/** What mail readiness reads from SES: the domain's verification and the receipt rule set. Reads only. */
export const observeMailReadiness = async (
  ses: SESClient,
  service: ServiceConfig,
  stackName: string,
): Promise<MailReadinessObserved> => {
  const mail = service.mail;
  const domain = mail?.domain ?? '';
  const ruleSet = receiptRuleSetName(stackName);
  const rule = receiptRuleName(service.name);
  const verification = await ses
    .send(new GetIdentityVerificationAttributesCommand({ Identities: [domain] }))
    .then((out) => ({ status: out.VerificationAttributes?.[domain]?.VerificationStatus }));
  let ruleSetExists = true;
  let rules: string[] = [];
  try {
    const out = await ses.send(new DescribeReceiptRuleSetCommand({ RuleSetName: ruleSet }));
    rules = (out.Rules ?? []).map((r) => r.Name ?? '');
  } catch (error) {
    if (!RULE_SET_MISSING.has(sdkErrorName(error) ?? '')) {
      throw classifyAwsError('SES DescribeReceiptRuleSet', error);
    }
    ruleSetExists = false;
  }
  return {
    domain,
    verification: verification.status,
    ruleSet,
    ruleSetExists,
    rule,
    ruleExists: rules.includes(rule),
  };
};

/** Mail readiness (functions/readiness/), in the SES Region that receives the domain's mail. */
export const mailReadiness = async (
  { config, clients }: CapabilityContext,
  service: ServiceConfig,
  input: ReadinessInput,
): Promise<CapabilityReadiness> => {
  const region = service.mail ? inboundRegionOf(service.mail, config.controlPlane.region) : undefined;
  const ses = clients.client(SESClient, region);
  return assessMail(service, await observeMailReadiness(ses, service, config.controlPlane.stackName), input);
};
