import { describe, expect, it } from 'vitest';
import {
  alarmRegionOf,
  CAPABILITIES,
  ConfigError,
  type ConfigInput,
  capabilitiesOf,
  parseConfig,
} from '../../functions/config/schema';
import { exampleInput, fullExampleInput, minimalInput, PRIMARY_HC, STANDBY_HC } from './fixtures';

/** Parses and returns the ConfigError it must throw. */
const configErrorOf = (input: unknown): ConfigError => {
  try {
    parseConfig(input, 'understudy.config.ts');
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected parseConfig to throw a ConfigError, but it accepted the input');
};

/** Mutable access to the first service / record of a minimal config input. */
const firstService = (input: ConfigInput) => {
  const svc = input.services[0];
  if (!svc) throw new Error('no service');
  return svc;
};
const firstRecord = (input: ConfigInput) => {
  const record = firstService(input).dns?.records[0];
  if (!record) throw new Error('no record');
  return record;
};

describe('parseConfig: the example runbook', () => {
  it('accepts the whole example, which protects every capability', () => {
    // Act
    const config = parseConfig(fullExampleInput(), 'understudy.config.ts');

    // Assess
    expect(config.services.flatMap((s) => capabilitiesOf(s)).sort()).toEqual([
      'compute',
      'database',
      'dns',
      'mail',
    ]);
  });

  it('accepts understudy.config.ts and keeps its values', () => {
    // Prepare
    const input = exampleInput();

    // Act
    const config = parseConfig(input);

    // Assess
    expect(config.controlPlane).toMatchObject({ account: '111111111111', region: 'eu-west-2' });
    const svc = config.services[0];
    expect(svc?.name).toBe('shop');
    expect(svc?.mode).toBe('auto');
    expect(svc?.dns?.hostedZoneId).toBe('Z0EXAMPLE0SHOP');
    expect(svc?.dns?.records.map((r) => `${r.name} ${r.type} ${r.routing}`)).toEqual([
      'www.shop.example.com. A weighted',
      'api.shop.example.com. CNAME swap',
    ]);
    expect(svc && capabilitiesOf(svc)).toEqual(['dns']);
  });
});

describe('parseConfig: defaults', () => {
  it('applies mode approve, cooldown 30 min, ttl 60 and control-plane defaults', () => {
    // Prepare
    const input = minimalInput();

    // Act
    const config = parseConfig(input);

    // Assess
    const svc = config.services[0];
    expect(svc?.mode).toBe('approve');
    expect(svc?.cooldownMinutes).toBe(30);
    expect(svc?.alarms).toEqual([]);
    expect(svc?.dns?.records[0]?.ttl).toBe(60);
    expect(config.controlPlane).toMatchObject({
      stackName: 'understudy',
      stateTableName: 'understudy-state',
      maxEventAgeSeconds: 600,
      auditRetentionDays: 90,
      logRetentionDays: 30,
    });
  });

  it('normalises record names and alias DNS names to lowercase with a trailing dot', () => {
    // Prepare
    const input = minimalInput();
    const record = firstRecord(input);
    record.name = 'WWW.Shop.Example.COM';
    record.standby = {
      aliasTarget: { dnsName: 'Standby-LB-123.eu-west-2.elb.amazonaws.com', hostedZoneId: 'ZHURV8PSTC4K8' },
      healthCheckId: STANDBY_HC,
    };

    // Act
    const config = parseConfig(input);

    // Assess
    const parsed = config.services[0]?.dns?.records[0];
    expect(parsed?.name).toBe('www.shop.example.com.');
    expect(parsed?.standby.aliasTarget).toEqual({
      dnsName: 'standby-lb-123.eu-west-2.elb.amazonaws.com.',
      hostedZoneId: 'ZHURV8PSTC4K8',
      evaluateTargetHealth: true,
    });
  });

  it('keeps a name that already ends with a dot as it is (no double dot)', () => {
    // Prepare
    const input = minimalInput();
    firstRecord(input).name = 'www.shop.example.com.';

    // Act
    const config = parseConfig(input);

    // Assess
    expect(config.services[0]?.dns?.records[0]?.name).toBe('www.shop.example.com.');
  });

  it('strips the /hostedzone/ prefix from a hosted zone id', () => {
    // Prepare
    const input = minimalInput();
    const dns = firstService(input).dns;
    if (dns) dns.hostedZoneId = '/hostedzone/Z0EXAMPLE0SHOP';

    // Act
    const config = parseConfig(input);

    // Assess
    expect(config.services[0]?.dns?.hostedZoneId).toBe('Z0EXAMPLE0SHOP');
  });
});

describe('parseConfig: ConfigError names the field and the reason', () => {
  it('rejects a bad hosted zone id', () => {
    // Prepare
    const input = minimalInput();
    const dns = firstService(input).dns;
    if (dns) dns.hostedZoneId = 'not-a-zone';

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual([
      'services[shop].dns.hostedZoneId: must be a Route 53 hosted zone id such as Z0123456789ABC',
    ]);
    expect(error.message).toContain('Invalid understudy.config.ts');
    expect(error.message).toContain('services[shop].dns.hostedZoneId');
  });

  it('rejects a weighted record without a health check on the standby side', () => {
    // Prepare
    const input = minimalInput();
    firstRecord(input).standby = { values: ['198.51.100.10'] };

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(
      /^services\[shop\]\.dns\.records\[www\.shop\.example\.com\]\.standby\.healthCheckId: a weighted record needs a health check on both sides/,
    );
  });

  it('rejects a weighted record without a health check on the primary side, naming that side', () => {
    // Prepare
    const input = minimalInput();
    firstRecord(input).primary = { values: ['192.0.2.10'] };

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues.map((i) => i.split(':')[0])).toEqual([
      'services[shop].dns.records[www.shop.example.com].primary.healthCheckId',
    ]);
  });

  it('accepts a swap record without health checks', () => {
    // Prepare
    const input = minimalInput();
    const dns = firstService(input).dns;
    if (dns) {
      dns.records = [
        {
          name: 'api.shop.example.com',
          type: 'CNAME',
          routing: 'swap',
          primary: { values: ['api-primary.shop.example.com'] },
          standby: { values: ['api-standby.shop.example.com'] },
        },
      ];
    }

    // Act
    const config = parseConfig(input);

    // Assess
    expect(config.services[0]?.dns?.records[0]?.routing).toBe('swap');
  });

  it('rejects a side that gives both values and an alias target', () => {
    // Prepare
    const input = minimalInput();
    firstRecord(input).primary = {
      values: ['192.0.2.10'],
      aliasTarget: { dnsName: 'lb.example.com', hostedZoneId: 'ZHURV8PSTC4K8' },
      healthCheckId: PRIMARY_HC,
    };

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toContain(
      'services[shop].dns.records[www.shop.example.com].primary: give exactly one of values or aliasTarget',
    );
  });

  it('rejects a side that gives neither values nor an alias target', () => {
    // Prepare
    const input = minimalInput();
    firstRecord(input).standby = { healthCheckId: STANDBY_HC };

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toContain(
      'services[shop].dns.records[www.shop.example.com].standby: give exactly one of values or aliasTarget',
    );
  });

  it('rejects an unknown key (strict objects catch typos)', () => {
    // Prepare
    const input = minimalInput() as unknown as { services: Record<string, unknown>[] };
    const svc = input.services[0];
    if (svc) svc.cooldownMinuts = 10;

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(
      /^services\[shop\]\.cooldownMinuts: unknown key \(did you mean "cooldownMinutes"\?\)$/,
    );
  });

  it('rejects duplicate service names, pointing at the second one', () => {
    // Prepare
    const input = minimalInput();
    const svc = firstService(input);
    input.services.push(structuredClone(svc));

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toContain('services[1].name: duplicate service name "shop"');
  });

  it('rejects a record name that another service already manages in the same zone', () => {
    // Prepare
    const input = minimalInput();
    input.services.push({ ...structuredClone(firstService(input)), name: 'shop-two' });

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual([
      'services[shop-two].dns.records[www.shop.example.com].name: www.shop.example.com. A is already managed by services.0.dns.records.0; one name, one owner',
    ]);
  });

  it('rejects equal primary and standby set identifiers', () => {
    // Prepare
    const input = minimalInput();
    Object.assign(firstRecord(input), { setIdentifiers: { primary: 'same', standby: 'same' } });

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual([
      'services[shop].dns.records[www.shop.example.com].setIdentifiers.standby: primary and standby need different set identifiers',
    ]);
  });

  it('rejects a CNAME with more than one value', () => {
    // Prepare
    const input = minimalInput();
    Object.assign(firstRecord(input), {
      type: 'CNAME',
      routing: 'swap',
      primary: { values: ['a.example.com', 'b.example.com'] },
      standby: { values: ['c.example.com'] },
    });

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual([
      'services[shop].dns.records[www.shop.example.com].primary.values: a CNAME record takes exactly one value',
    ]);
  });

  it('rejects an alarm that fails over a capability the service does not configure', () => {
    // Prepare
    const input = minimalInput();
    const svc = firstService(input);
    svc.alarms = [{ name: 'shop-down', capabilities: ['dns'] }];
    delete svc.dns;

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toContain(`services[shop]: configure at least one of: ${CAPABILITIES.join(', ')}`);
    expect(error.issues).toContain(
      'services[shop].alarms[shop-down].capabilities[0]: alarm "shop-down" fails over "dns", but the service has no "dns" section',
    );
  });

  it.each([
    ['11111111111', 'eleven digits'],
    ['1111111111111', 'thirteen digits'],
    ['11111111111a', 'a letter'],
  ])('rejects account id %s (%s)', (account) => {
    // Prepare
    const input = minimalInput();
    input.controlPlane.account = account;

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual(['controlPlane.account: must be a 12-digit AWS account id']);
  });

  it('rejects a bad region', () => {
    // Prepare
    const input = minimalInput();
    input.controlPlane.region = 'europe';

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual(['controlPlane.region: must be an AWS Region such as eu-west-1']);
  });

  it('rejects a bad alarm region, and leaves an omitted one to the control plane', () => {
    // Prepare
    const input = minimalInput();
    const svc = input.services[0];
    if (!svc) throw new Error('no service');
    svc.alarms = [{ name: 'shop-down', region: 'virginia' }, { name: 'shop-5xx' }];

    // Act
    const error = configErrorOf(input);
    svc.alarms = [{ name: 'shop-hc', region: 'us-east-1' }, { name: 'shop-5xx' }];
    const config = parseConfig(input);

    // Assess
    expect(error.issues).toEqual([
      'services[shop].alarms[shop-down].region: must be an AWS Region such as eu-west-1',
    ]);
    expect(config.services[0]?.alarms.map((a) => alarmRegionOf(config, a))).toEqual([
      'us-east-1',
      'eu-west-2',
    ]);
  });

  it('rejects an empty service list', () => {
    // Prepare
    const input = minimalInput();
    input.services = [];

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatch(/^services: /);
  });

  it('rejects a health check id that is not a UUID', () => {
    // Prepare
    const input = minimalInput();
    firstRecord(input).primary = { values: ['192.0.2.10'], healthCheckId: 'hc-1' };

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toContain(
      'services[shop].dns.records[www.shop.example.com].primary.healthCheckId: must be a Route 53 health check id (a UUID)',
    );
  });

  it('rejects an invalid service name and reports every bad field at once', () => {
    // Prepare
    const input = minimalInput();
    firstService(input).name = 'Shop_1';
    input.controlPlane.account = '42';

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual(
      expect.arrayContaining([
        'controlPlane.account: must be a 12-digit AWS account id',
        'services[Shop_1].name: must be lowercase letters, digits and dashes, starting with a letter',
      ]),
    );
    expect(error.message.split('\n  - ')).toHaveLength(error.issues.length + 1);
  });

  it('names the top level when the whole input is not an object', () => {
    // Act
    const error = configErrorOf(null);

    // Assess
    expect(error.issues[0]).toMatch(/^\(top level\): /);
  });
});

describe('parseConfig: controlPlane.alarmEmails', () => {
  it('takes a list of addresses for the operator alarm topic', () => {
    // Prepare
    const input = minimalInput();
    input.controlPlane.alarmEmails = ['oncall@example.com', 'ops+understudy@example.org'];

    // Act
    const config = parseConfig(input);

    // Assess
    expect(config.controlPlane.alarmEmails).toEqual(['oncall@example.com', 'ops+understudy@example.org']);
  });

  it('rejects a value that is not an email address, naming the field', () => {
    // Prepare
    const input = minimalInput();
    input.controlPlane.alarmEmails = ['oncall@example.com', '#ops-channel'];

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual(['controlPlane.alarmEmails[1]: must be an email address']);
  });

  it('rejects an address listed twice', () => {
    // Prepare
    const input = minimalInput();
    input.controlPlane.alarmEmails = ['oncall@example.com', 'OnCall@example.com'];

    // Act
    const error = configErrorOf(input);

    // Assess
    expect(error.issues).toEqual(['controlPlane.alarmEmails: lists an address twice']);
  });
});
