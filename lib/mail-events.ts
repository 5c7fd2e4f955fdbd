/**
 * `Mail Stored` events in the construct: the `events` prop, the bus the worker publishes
 * to (by name in this account and Region, else by ARN), and the rules of `onMail` with
 * their read grant, scoped to the objects a rule's events can name.
 */
import { Stack, Token, TokenComparison, Validations } from 'aws-cdk-lib';
import { EventBus, Rule, type IEventBus, type IRuleTarget } from 'aws-cdk-lib/aws-events';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { BucketGrants, type IBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { mailEventPattern, mailObjectPatterns, validateMailFilter, type MailFilter } from './mail-filter';
import { nagArn } from './nag-arn';
import { MailFetcherPropsError } from './props-validation';

export interface MailEventsProps {
  /**
   * Publish a `Mail Stored` event per newly stored message (source `mailfetch`; the detail
   * names the object and the routing headers: from, to, subject, sizes...). Events not
   * published are kept in the state table and re-sent by later runs, which read the first
   * 64 KiB of the stored object again (the function may `s3:GetObject` under `prefix`).
   * @default true
   */
  readonly enabled?: boolean;
  /**
   * The bus that gets the events; the function may `events:PutEvents` on it and nothing
   * else. Another account's bus (in this Region) is addressed by ARN, and its resource
   * policy must allow the function's role; `onMail` needs a bus of this account.
   * @default the account's default bus
   */
  readonly eventBus?: IEventBus;
}

export interface OnMailOptions {
  /**
   * Gets `s3:GetObject` on the objects of the mailboxes the rule's events can name (the
   * filter's mailboxes' keys, else every key under `prefix`), and `kms:Decrypt` on the
   * message key under SSE-KMS; e.g. the Lambda function behind `target`. IAM cannot narrow
   * it by sender, subject or size: those filters do not narrow the grant.
   * @default no grant
   */
  readonly grantRead?: IGrantable;
  /**
   * @default 'mailfetch: Mail Stored events' and the filtered mailboxes
   */
  readonly description?: string;
  /**
   * @default a name CloudFormation generates
   */
  readonly ruleName?: string;
}

const DEFAULT_EVENT_BUS_NAME = 'default';

/** The bus the worker publishes to, and how `MAILFETCH_EVENT_BUS` names it. */
export interface MailEventBus {
  readonly bus: IEventBus;
  /** The bus name when it is known to be in the stack's account and Region (PutEvents looks it up there), else its ARN. */
  readonly reference: string;
}

/** `eventBus`, else the account's default bus (imported by name). */
export function mailEventBus(scope: Construct, eventBus: IEventBus | undefined): MailEventBus {
  if (eventBus === undefined) {
    return { bus: EventBus.fromEventBusName(scope, 'DefaultEventBus', DEFAULT_EVENT_BUS_NAME), reference: DEFAULT_EVENT_BUS_NAME };
  }
  return { bus: eventBus, reference: isLocal(scope, eventBus) ? eventBus.eventBusName : eventBus.eventBusArn };
}

export interface MailRuleProps {
  readonly bus: IEventBus;
  readonly bucket: IBucket;
  readonly prefix: string;
  readonly encryptionKey?: IKey;
  readonly filter: MailFilter;
  readonly target: IRuleTarget;
  readonly options: OnMailOptions;
}

/**
 * The bus an `onMail` rule goes on: there must be one (events on), in this account.
 * @throws MailFetcherPropsError naming the prop that stands in the way
 */
export function ruleEventBus(scope: Construct, ruleId: string, bus: IEventBus | undefined): IEventBus {
  if (bus === undefined) {
    throw new MailFetcherPropsError([`events.enabled: is false, so no Mail Stored events are published and onMail("${ruleId}") would never fire; turn events on or remove the rule`]);
  }
  if (Token.compareStrings(bus.env.account, Stack.of(scope).account) === TokenComparison.DIFFERENT) {
    throw new MailFetcherPropsError([`events.eventBus: is in account ${bus.env.account}; rules live in the bus's account, so onMail("${ruleId}") cannot add one here (add it in that account)`]);
  }
  return bus;
}

/**
 * A rule on the bus for the filter's `Mail Stored` events, and the read grant of `options.grantRead`.
 * @throws MailFilterError for a bad filter
 */
export function mailRule(scope: Construct, id: string, props: MailRuleProps): Rule {
  validateMailFilter(id, props.filter);
  const rule = new Rule(scope, id, {
    eventBus: props.bus,
    eventPattern: mailEventPattern(props.filter),
    description: props.options.description ?? defaultDescription(props.filter),
    ...(props.options.ruleName === undefined ? {} : { ruleName: props.options.ruleName }),
    targets: [props.target],
  });
  if (props.options.grantRead !== undefined) grantRuleReads(scope, props, props.options.grantRead);
  return rule;
}

/** GetObject on the objects the rule's events name, and Decrypt under SSE-KMS; one statement whatever the mailboxes. */
function grantRuleReads(scope: Construct, props: MailRuleProps, grantee: IGrantable): void {
  const patterns = mailObjectPatterns(props.prefix, props.filter);
  const grants = BucketGrants.fromBucket(props.bucket);
  for (const pattern of patterns) grants.actionsOnObjectKeys(grantee, pattern, 's3:GetObject');
  props.encryptionKey?.grantDecrypt(grantee);
  const principal = grantee.grantPrincipal;
  if (!Construct.isConstruct(principal)) return;
  // Object keys are per message: a key prefix is the narrowest resource there is.
  for (const pattern of patterns) {
    Validations.of(principal).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${nagArn(scope, props.bucket.bucketArn)}/${pattern}]`,
      reason: `Reads of the messages an onMail rule sends (key prefix "${pattern}"); object keys are derived per message at run time, so the prefix is the narrowest resource.`,
    });
  }
}

function defaultDescription(filter: MailFilter): string {
  const mailboxes = filter.mailbox === undefined ? [] : [filter.mailbox].flat();
  return mailboxes.length === 0 ? 'mailfetch: Mail Stored events' : `mailfetch: Mail Stored events of ${mailboxes.join(', ')}`;
}

function isLocal(scope: Construct, bus: IEventBus): boolean {
  const stack = Stack.of(scope);
  // The same token (the stack's own account) compares as BOTH_UNRESOLVED, yet is the same value.
  const same = (a: string, b: string): boolean => a === b || Token.compareStrings(a, b) === TokenComparison.SAME;
  return same(bus.env.account, stack.account) && same(bus.env.region, stack.region);
}
