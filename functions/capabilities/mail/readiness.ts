import {
  type AssessReadiness,
  notReady,
  type ReadinessFinding,
  type RequiredCall,
  ready,
} from '../../readiness/finding';

/*
 * Mail readiness, pure: what SES reports -> would holding mail (the failover) work now. SES accepts
 * mail for the domain only if the domain is verified, and holds it only through the stack's receipt
 * rule set and the service's rule in it.
 */

export interface MailReadinessObserved {
  readonly domain: string;
  /** SES's VerificationStatus of the domain (Success, Pending, Failed, ...); undefined: not an identity. */
  readonly verification: string | undefined;
  readonly ruleSet: string;
  readonly ruleSetExists: boolean;
  readonly rule: string;
  readonly ruleExists: boolean;
}

export const assessMail: AssessReadiness<MailReadinessObserved> = (service, observed) => {
  if (!service.mail) return { findings: [] };
  const findings: ReadinessFinding[] = [];
  findings.push(
    observed.verification === 'Success'
      ? ready('failover', 'domain-verified', `${observed.domain} is verified in SES`)
      : notReady(
          'failover',
          'domain-verified',
          observed.verification === undefined
            ? `${observed.domain} is not an SES identity: SES would refuse its mail`
            : `${observed.domain} is not verified in SES (${observed.verification})`,
        ),
  );
  findings.push(
    !observed.ruleSetExists
      ? notReady('failover', 'receipt-rule-set', `receipt rule set ${observed.ruleSet} does not exist`)
      : observed.ruleExists
        ? ready('failover', 'receipt-rule-set', `receipt rule ${observed.rule} exists in ${observed.ruleSet}`)
        : notReady(
            'failover',
            'receipt-rule-set',
            `receipt rule set ${observed.ruleSet} has no rule ${observed.rule}`,
          ),
  );
  return { findings, calls: mailCalls() };
};

/** The calls holding mail makes, for the IAM check (SES receipt rules take no resource-level rights). */
export const mailCalls = (): RequiredCall[] => [
  { direction: 'failover', action: 'ses:SetActiveReceiptRuleSet', resource: '*' },
  { direction: 'failover', action: 'ses:UpdateReceiptRule', resource: '*' },
];
