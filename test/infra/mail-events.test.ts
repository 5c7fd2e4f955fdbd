import { Stack, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { LambdaFunction, SqsQueue } from 'aws-cdk-lib/aws-events-targets';
import { Key } from 'aws-cdk-lib/aws-kms';
import { Code, Function as LambdaFn, Runtime } from 'aws-cdk-lib/aws-lambda';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { ENV } from '../../lambda/env';
import { MAIL_STORED_DETAIL_TYPE, MAIL_STORED_SOURCE } from '../../lambda/events/mail-stored-detail';
import { objectKeyFor } from '../../lambda/storage/object-key';
import { MailFetcher } from '../../lib/mail-fetcher';
import type { MailFetcherProps } from '../../lib/mail-fetcher-props';
import { MailFilterError, type MailFilter } from '../../lib/mail-filter';
import { MailFetcherPropsError } from '../../lib/props-validation';
import { testApp } from './test-app';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

interface Built {
  readonly stack: Stack;
  readonly fetcher: MailFetcher;
  readonly consumer: LambdaFn;
}

const PARTNER_BUS_ARN = 'arn:aws:events:eu-west-1:111111111111:event-bus/pipelines';
/** A stack in another account than the partner bus, in its Region. */
const OWN_ENV = { account: '222222222222', region: 'eu-west-1' };

/**
 * A stack with a MailFetcher (no mailboxes: events need none) and a consumer function.
 * @param props the fetcher's props, or a function of the stack returning them
 */
function build(props: MailFetcherProps | ((stack: Stack) => MailFetcherProps) = {}, env?: typeof OWN_ENV): Built {
  const stack = new Stack(testApp(), 'Test', env === undefined ? {} : { env });
  const fetcher = new MailFetcher(stack, 'MailFetcher', typeof props === 'function' ? props(stack) : props);
  const consumer = new LambdaFn(stack, 'Consumer', { runtime: Runtime.NODEJS_22_X, handler: 'index.handler', code: Code.fromInline('exports.handler = async () => {}') });
  return { stack, fetcher, consumer };
}

function logicalId(stack: Stack, construct: IConstruct): string {
  return stack.getLogicalId(construct.node.defaultChild as CfnElement);
}

/** Every statement of the policies attached to a role. */
function roleStatements(template: Template, stack: Stack, role: IConstruct): Statement[] {
  const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: logicalId(stack, role) }] } });
  return Object.values(policies).flatMap((p) => (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}

function withAction(statements: readonly Statement[], action: string): Statement[] {
  return statements.filter((s) => ([] as string[]).concat(s.Action).includes(action));
}

function functionEnvironment(template: Template, stack: Stack, fetcher: MailFetcher): Record<string, unknown> {
  const fn = template.toJSON().Resources[logicalId(stack, fetcher.function)] as { Properties: { Environment: { Variables: Record<string, unknown> } } };
  return fn.Properties.Environment.Variables;
}

/** `<bucket ARN>/<pattern>` as the template writes object resources. */
function objectsArn(stack: Stack, fetcher: MailFetcher, pattern: string): unknown {
  return { 'Fn::Join': ['', [{ 'Fn::GetAtt': [logicalId(stack, fetcher.bucket), 'Arn'] }, `/${pattern}`]] };
}

const DEFAULT_BUS_ARN = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':events:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':event-bus/default']],
};

/** The one rule's event pattern. */
function onlyPattern(template: Template): Record<string, unknown> {
  const rules = Object.values(template.findResources('AWS::Events::Rule')) as { Properties: { EventPattern: Record<string, unknown> } }[];
  expect(rules).toHaveLength(1);
  return rules[0]!.Properties.EventPattern;
}

function patternOf(filter: MailFilter): Record<string, unknown> {
  const { fetcher, stack } = build();
  fetcher.onMail('Rule', filter, new SqsQueue(new Queue(stack, 'Queue')));
  return onlyPattern(Template.fromStack(stack));
}

const BASE_PATTERN = { source: [MAIL_STORED_SOURCE], 'detail-type': [MAIL_STORED_DETAIL_TYPE] };

describe('Mail Stored events: the worker', () => {
  it('by default publishes to the default bus: MAILFETCH_EVENT_BUS is "default", PutEvents only on that bus', () => {
    const { stack, fetcher } = build();
    const template = Template.fromStack(stack);
    const statements = roleStatements(template, stack, fetcher.function.role!);

    expect(functionEnvironment(template, stack, fetcher)[ENV.EVENT_BUS]).toBe('default');
    expect(withAction(statements, 'events:PutEvents')).toEqual([{ Action: 'events:PutEvents', Effect: 'Allow', Resource: DEFAULT_BUS_ARN }]);
    expect(fetcher.eventBus?.eventBusName).toBe('default');
  });

  it('watches the events: the EventsNotPublished alarm and a published/refused graph on the dashboard; neither without events', () => {
    const dashboardOf = (stack: Stack): string => JSON.stringify(Template.fromStack(stack).findResources('AWS::CloudWatch::Dashboard'));
    const on = build({});
    expect(on.fetcher.alarms.eventsNotPublished).toBeDefined();
    expect(dashboardOf(on.stack)).toContain('Mail Stored events published / refused');
    const off = build({ events: { enabled: false } });
    expect(dashboardOf(off.stack)).not.toContain('Mail Stored events');
  });

  it('may read message objects (to re-send an event from the stored header block) under the prefix only', () => {
    const { stack, fetcher } = build({ prefix: 'mail/' });
    const statements = roleStatements(Template.fromStack(stack), stack, fetcher.function.role!);

    const reads = withAction(statements, 's3:GetObject');
    expect(reads).toHaveLength(1);
    expect(reads[0]!.Resource).toEqual(objectsArn(stack, fetcher, 'mail/*'));
    expect(statements.filter((s) => ([] as string[]).concat(s.Action).some((a) => a.startsWith('s3:Get') || a.startsWith('s3:List')))).toEqual(reads);
  });

  it('publishes to a bus of the same stack by name, with PutEvents on that bus and not on the default one', () => {
    const { stack, fetcher } = build((s) => ({ events: { eventBus: new EventBus(s, 'Bus') } }));
    const template = Template.fromStack(stack);
    const busId = logicalId(stack, fetcher.eventBus!);

    expect(functionEnvironment(template, stack, fetcher)[ENV.EVENT_BUS]).toEqual({ Ref: busId });
    expect(withAction(roleStatements(template, stack, fetcher.function.role!), 'events:PutEvents')).toEqual([
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: { 'Fn::GetAtt': [busId, 'Arn'] } },
    ]);
    template.resourceCountIs('AWS::Events::EventBus', 1);
  });

  it("addresses another account's bus by ARN (a name would be looked up in this account)", () => {
    const { stack, fetcher } = build((s) => ({ events: { eventBus: EventBus.fromEventBusArn(s, 'Partner', PARTNER_BUS_ARN) } }), OWN_ENV);
    const template = Template.fromStack(stack);

    expect(functionEnvironment(template, stack, fetcher)[ENV.EVENT_BUS]).toBe(PARTNER_BUS_ARN);
    expect(withAction(roleStatements(template, stack, fetcher.function.role!), 'events:PutEvents')).toEqual([
      { Action: 'events:PutEvents', Effect: 'Allow', Resource: PARTNER_BUS_ARN },
    ]);
  });

  it('with events disabled: no MAILFETCH_EVENT_BUS, no PutEvents, no object reads, no bus, no events alarm', () => {
    const { stack, fetcher } = build({ events: { enabled: false } });
    const template = Template.fromStack(stack);
    const statements = roleStatements(template, stack, fetcher.function.role!);

    expect(functionEnvironment(template, stack, fetcher)).not.toHaveProperty(ENV.EVENT_BUS);
    expect(withAction(statements, 'events:PutEvents')).toEqual([]);
    expect(withAction(statements, 's3:GetObject')).toEqual([]);
    expect(withAction(statements, 's3:PutObject')).toHaveLength(1);
    expect(fetcher.eventBus).toBeUndefined();
    expect(fetcher.alarms.eventsNotPublished).toBeUndefined();
    expect(fetcher.alarms.all).toHaveLength(5);
  });

  it('refuses a bus with events disabled, and an enabled flag that is not a boolean', () => {
    const stack = new Stack(testApp(), 'Test');
    const bus = new EventBus(stack, 'Bus');
    let n = 0;
    const attempt = (): MailFetcher => new MailFetcher(stack, `MailFetcher${n++}`, { events: { enabled: false, eventBus: bus } });
    expect(attempt).toThrow(MailFetcherPropsError);
    expect(attempt).toThrow('events.eventBus: only applies with events enabled');
    expect(() => new MailFetcher(stack, 'Plain', { events: { enabled: 'no' as unknown as boolean } })).toThrow('events.enabled: must be true or false (got no)');
  });
});

describe('onMail: the event pattern, as EventBridge content filtering expects it', () => {
  it('without fields: every Mail Stored event (source and detail type only)', () => {
    expect(patternOf({})).toEqual(BASE_PATTERN);
  });

  it('mailbox: exact values', () => {
    expect(patternOf({ mailbox: 'support' })).toEqual({ ...BASE_PATTERN, detail: { mailbox: ['support'] } });
    expect(patternOf({ mailbox: ['support', 'sales'] })).toEqual({ ...BASE_PATTERN, detail: { mailbox: ['support', 'sales'] } });
  });

  it('from: from.address, equals-ignore-case', () => {
    expect(patternOf({ from: ['Boss@Example.org', 'billing@vendor.example'] })).toEqual({
      ...BASE_PATTERN,
      detail: { from: { address: [{ 'equals-ignore-case': 'Boss@Example.org' }, { 'equals-ignore-case': 'billing@vendor.example' }] } },
    });
  });

  it('fromDomain: a suffix "@domain" of from.address, ignoring case', () => {
    expect(patternOf({ fromDomain: 'example.org' })).toEqual({
      ...BASE_PATTERN,
      detail: { from: { address: [{ suffix: { 'equals-ignore-case': '@example.org' } }] } },
    });
  });

  it('subjectPrefix: a prefix of subject, ignoring case', () => {
    expect(patternOf({ subjectPrefix: 'Invoice' })).toEqual({ ...BASE_PATTERN, detail: { subject: [{ prefix: { 'equals-ignore-case': 'Invoice' } }] } });
  });

  it('minSize and maxSize: one numeric range, inclusive; either alone is a one-sided bound', () => {
    expect(patternOf({ minSize: 1024, maxSize: 10_485_760 })).toEqual({ ...BASE_PATTERN, detail: { size: [{ numeric: ['>=', 1024, '<=', 10_485_760] }] } });
    expect(patternOf({ minSize: 0 })).toEqual({ ...BASE_PATTERN, detail: { size: [{ numeric: ['>=', 0] }] } });
    expect(patternOf({ maxSize: 65_536 })).toEqual({ ...BASE_PATTERN, detail: { size: [{ numeric: ['<=', 65_536] }] } });
  });

  it('hasAttachments: the boolean itself', () => {
    expect(patternOf({ hasAttachments: true })).toEqual({ ...BASE_PATTERN, detail: { hasAttachments: [true] } });
    expect(patternOf({ hasAttachments: false })).toEqual({ ...BASE_PATTERN, detail: { hasAttachments: [false] } });
  });

  it('fields together: every condition in one detail (AND)', () => {
    expect(patternOf({ mailbox: 'billing', fromDomain: 'vendor.example', subjectPrefix: 'Invoice', maxSize: 1000, hasAttachments: true })).toEqual({
      ...BASE_PATTERN,
      detail: {
        mailbox: ['billing'],
        from: { address: [{ suffix: { 'equals-ignore-case': '@vendor.example' } }] },
        subject: [{ prefix: { 'equals-ignore-case': 'Invoice' } }],
        size: [{ numeric: ['<=', 1000] }],
        hasAttachments: [true],
      },
    });
  });

  it('puts the rule on the fetcher bus, with the target, a description and the given name', () => {
    const { stack, fetcher } = build();
    const bus = new EventBus(stack, 'Bus');
    const custom = new MailFetcher(stack, 'Custom', { events: { eventBus: bus } });
    const queue = new Queue(stack, 'Queue');
    const rule = custom.onMail('Billing', { mailbox: 'billing' }, new SqsQueue(queue), { ruleName: 'billing-mail' });
    fetcher.onMail('All', {}, new SqsQueue(queue), { description: 'everything' });
    const template = Template.fromStack(stack);

    template.hasResourceProperties('AWS::Events::Rule', {
      Name: 'billing-mail',
      EventBusName: { Ref: logicalId(stack, bus) },
      Description: 'mailfetch: Mail Stored events of billing',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalId(stack, queue), 'Arn'] } })],
    });
    template.hasResourceProperties('AWS::Events::Rule', { EventBusName: 'default', Description: 'everything', EventPattern: BASE_PATTERN });
    expect(rule.node.scope).toBe(custom);
  });
});

describe('onMail grantRead: exactly the objects the rule can send', () => {
  it("with a mailbox filter: GetObject on that mailbox's keys, which is where the worker stores them", () => {
    const { stack, fetcher, consumer } = build();
    fetcher.onMail('Support', { mailbox: 'support.team' }, new LambdaFunction(consumer), { grantRead: consumer });
    const template = Template.fromStack(stack);
    const statements = roleStatements(template, stack, consumer.role!);

    expect(statements).toEqual([{ Action: 's3:GetObject', Effect: 'Allow', Resource: objectsArn(stack, fetcher, 'messages/support.team/*') }]);
    // The worker's key for a message of that mailbox falls under the granted pattern; another mailbox's does not.
    expect(objectKeyFor('messages/', 'support.team', '1:uidl/odd')).toMatch(/^messages\/support\.team\/[^/]+$/);
    expect(objectKeyFor('messages/', 'support.teams', 'x').startsWith('messages/support.team/')).toBe(false);
  });

  it('with several mailboxes: one statement naming each mailbox prefix', () => {
    const { stack, fetcher, consumer } = build();
    fetcher.onMail('Two', { mailbox: ['sales', 'support', 'sales'] }, new LambdaFunction(consumer), { grantRead: consumer });
    const statements = roleStatements(Template.fromStack(stack), stack, consumer.role!);

    expect(statements).toHaveLength(1);
    expect(statements[0]!.Action).toBe('s3:GetObject');
    expect(statements[0]!.Resource).toEqual(expect.arrayContaining([objectsArn(stack, fetcher, 'messages/sales/*'), objectsArn(stack, fetcher, 'messages/support/*')]));
    expect(statements[0]!.Resource).toHaveLength(2);
  });

  it('without a mailbox filter: GetObject on every key under the prefix, nothing on the bucket itself', () => {
    const { stack, fetcher, consumer } = build({ prefix: 'inbound/' });
    fetcher.onMail('Large', { minSize: 1_000_000 }, new LambdaFunction(consumer), { grantRead: consumer });
    const statements = roleStatements(Template.fromStack(stack), stack, consumer.role!);

    expect(statements).toEqual([{ Action: 's3:GetObject', Effect: 'Allow', Resource: objectsArn(stack, fetcher, 'inbound/*') }]);
  });

  it('under SSE-KMS: also kms:Decrypt on the message key', () => {
    const { stack, fetcher, consumer } = build((s) => ({ encryptionKey: new Key(s, 'BucketKey') }));
    const key = fetcher.encryptionKey!;
    fetcher.onMail('Support', { mailbox: 'support' }, new LambdaFunction(consumer), { grantRead: consumer });
    const statements = roleStatements(Template.fromStack(stack), stack, consumer.role!);

    expect(withAction(statements, 'kms:Decrypt')).toEqual([{ Action: 'kms:Decrypt', Effect: 'Allow', Resource: { 'Fn::GetAtt': [logicalId(stack, key), 'Arn'] } }]);
    expect(withAction(statements, 's3:GetObject')).toHaveLength(1);
  });

  it('without grantRead: no grant at all', () => {
    const { stack, fetcher, consumer } = build();
    fetcher.onMail('Support', { mailbox: 'support' }, new LambdaFunction(consumer));
    expect(roleStatements(Template.fromStack(stack), stack, consumer.role!)).toEqual([]);
  });
});

describe('onMail refuses', () => {
  const target = (stack: Stack): SqsQueue => new SqsQueue(new Queue(stack, 'Queue'));

  it('a fetcher with events disabled, naming the prop', () => {
    const { stack, fetcher } = build({ events: { enabled: false } });
    const queue = target(stack);
    const attempt = (): unknown => fetcher.onMail('Support', { mailbox: 'support' }, queue);
    expect(attempt).toThrow(MailFetcherPropsError);
    expect(attempt).toThrow(
      'Invalid MailFetcher props (1 problem):\n  - events.enabled: is false, so no Mail Stored events are published and onMail("Support") would never fire; turn events on or remove the rule',
    );
  });

  it("another account's bus: its rules live in that account", () => {
    const { stack, fetcher } = build((s) => ({ events: { eventBus: EventBus.fromEventBusArn(s, 'Partner', PARTNER_BUS_ARN) } }), OWN_ENV);
    expect(() => fetcher.onMail('Support', {}, target(stack))).toThrow(/events\.eventBus: is in account 111111111111; rules live in the bus's account/);
  });

  it('a bad filter, listing every problem in one MailFilterError', () => {
    const { stack, fetcher } = build();
    const queue = target(stack);
    const attempt = (filter: MailFilter) => (): unknown => fetcher.onMail('Bad', filter, queue);

    expect(attempt({ mailbox: [], from: [], fromDomain: [] })).toThrow(MailFilterError);
    expect(attempt({ mailbox: [], from: [] })).toThrow(
      'Invalid onMail filter of rule "Bad" (2 problems):\n' +
        '  - mailbox: must not be an empty list (leave it out to match any mailbox)\n' +
        '  - from: must not be an empty list (leave it out to match any from)',
    );
    const cases: [MailFilter, string][] = [
      [{ mailbox: ['support', 'no/slash'] }, 'mailbox[1]: "no/slash" is not a mailbox id (letters, digits, ".", "_", "-"; at most 64)'],
      [{ mailbox: '' }, 'mailbox: must be a non-empty string'],
      [{ from: 'a b@example.org' }, 'from: "a b@example.org" must not contain blanks'],
      [{ fromDomain: '@example.org' }, 'fromDomain: "@example.org" must be a domain without "@" or blanks (e.g. "example.org")'],
      [{ from: 'a@example.org', fromDomain: 'example.org' }, 'fromDomain: give from or fromDomain, not both (list the addresses of the domain in from instead)'],
      [{ subjectPrefix: '' }, 'subjectPrefix: must be a non-empty string (leave it out to match any subject)'],
      [{ minSize: -1 }, 'minSize: must be a whole number of octets from 0 to 5000000000 (got -1)'],
      [{ maxSize: 1.5 }, 'maxSize: must be a whole number of octets from 0 to 5000000000 (got 1.5)'],
      [{ maxSize: 6e9 }, 'maxSize: must be a whole number of octets from 0 to 5000000000 (got 6000000000)'],
      [{ minSize: 2000, maxSize: 1000 }, 'minSize: must not exceed maxSize (1000) (got 2000)'],
      [{ hasAttachments: 'yes' as unknown as boolean }, 'hasAttachments: must be true or false'],
    ];
    for (const [filter, problem] of cases) {
      expect(attempt(filter), JSON.stringify(filter)).toThrow(`Invalid onMail filter of rule "Bad" (1 problem):\n  - ${problem}`);
    }
    expect(Template.fromStack(stack).findResources('AWS::Events::Rule')).toEqual({});
  });

  it('accepts the edges: minSize equal to maxSize, size 0, the largest size EventBridge matches', () => {
    const { stack, fetcher } = build();
    const queue = target(stack);
    expect(() => fetcher.onMail('A', { minSize: 100, maxSize: 100 }, queue)).not.toThrow();
    expect(() => fetcher.onMail('B', { minSize: 0, maxSize: 5_000_000_000 }, queue)).not.toThrow();
  });
});
