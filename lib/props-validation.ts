/**
 * Validation of `MailFetcher` props. Every problem is collected and reported in one error
 * (`<prop>: <what is wrong>`), so a single edit fixes them all instead of one per synth.
 */
import { Duration } from 'aws-cdk-lib';
import { validId } from '../lambda/config/parse-mailbox';
import { Problems } from '../lambda/config/problems';
import { parseMailboxEntries } from '../lambda/config/validate-config';
import { MAX_DETAILED_METRICS_MAILBOXES } from '../lambda/observability/detailed-metrics-mailboxes';
import { applyDefaults, type MailFetcherProps, type ResolvedMailFetcherProps } from './mail-fetcher-props';
import { isUnderPrefix } from '../lambda/credentials/secret-name';
import { collectMailboxSecrets } from './secret-refs';
import { MAX_BATCH_MAILBOXES } from '../lambda/handlers/worker-event';

/** Lambda's limits. */
const MIN_MEMORY_MIB = 128;
const MAX_MEMORY_MIB = 10_240;
/** Below this a run cannot do much more than log in. */
const MIN_TIMEOUT = Duration.seconds(30);
const MAX_TIMEOUT = Duration.minutes(15);
const MAX_PERCENT = 100;
/** An SQS event source mapping's maximumConcurrency. */
const MIN_CONCURRENT_INVOCATIONS = 2;
const MAX_CONCURRENT_INVOCATIONS = 1_000;
/** A sanity bound: no POP3 provider accepts more sessions than this from one client. */
const MAX_HOST_SESSIONS = 1_000;
const MAX_NAMESPACE_CHARS = 255;
/** Secrets Manager's name alphabet and length; `*` and `?` would widen the IAM grant. */
const SECRET_NAME_PREFIX_PATTERN = /^[A-Za-z0-9/_+=.@-]{1,256}$/;

export const PROPS_ERROR_CODE = 'INVALID_PROPS';

/** The one error `MailFetcher` throws for bad props, listing every problem. */
export class MailFetcherPropsError extends Error {
  override readonly name = 'MailFetcherPropsError';
  readonly code = PROPS_ERROR_CODE;
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    super(`Invalid MailFetcher props (${count}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = Object.freeze([...problems]);
  }
}

/**
 * The props as the construct builds from them: the mailboxes validated and defaulted (plain
 * objects are checked like a configuration file's, with its messages), every other default
 * applied, everything checked.
 * @throws MailFetcherPropsError listing every problem
 */
export function resolveMailFetcherProps(props: MailFetcherProps): ResolvedMailFetcherProps {
  const mailboxProblems = new Problems();
  const given: readonly unknown[] = Array.isArray(props.mailboxes) ? props.mailboxes : [];
  const mailboxes = parseMailboxEntries(given, undefined, mailboxProblems);
  if (props.mailboxes !== undefined && !Array.isArray(props.mailboxes)) mailboxProblems.add('mailboxes', 'must be an array of mailboxes');
  const resolved = applyDefaults(props, mailboxes);
  validateMailFetcherProps(props, resolved, mailboxProblems.all);
  return resolved;
}

/**
 * @param props the props as given (to tell a default from an explicit value)
 * @param resolved the same props with defaults applied
 * @param configProblems what the validation of the `mailboxes` entries found
 * @throws MailFetcherPropsError listing every problem
 */
function validateMailFetcherProps(props: MailFetcherProps, resolved: ResolvedMailFetcherProps, configProblems: readonly string[]): void {
  const problems: string[] = [
    ...configProblems,
    ...mailboxProblems(resolved),
    ...storageProblems(props, resolved),
    ...functionProblems(resolved),
    ...networkProblems(resolved),
    ...dispatchProblems(props, resolved),
    ...alarmProblems(resolved),
    ...eventsProblems(resolved),
  ];
  if (problems.length > 0) throw new MailFetcherPropsError(problems);
}

function mailboxProblems(p: ResolvedMailFetcherProps): string[] {
  const problems: string[] = [];
  const { envRefs, secretRefs } = collectMailboxSecrets(p.mailboxes);
  for (const use of envRefs) {
    problems.push(`${use.path}: { "env": ... } works only for local runs; a deployed function reads sealed values ({ "sealed": ... }) or Secrets Manager ({ "secretId": ... })`);
  }
  if (!SECRET_NAME_PREFIX_PATTERN.test(p.secretNamePrefix)) {
    problems.push(`secretNamePrefix: must be 1 to 256 of the characters Secrets Manager names allow (letters, digits, /_+=.@-), without * or ? (got "${p.secretNamePrefix}")`);
    return problems;
  }
  for (const { path, ref } of secretRefs) {
    if (isUnderPrefix(ref.secretId, p.secretNamePrefix)) continue;
    problems.push(
      `${path}: secret "${ref.secretId}" is not named under secretNamePrefix "${p.secretNamePrefix}", so the function may not read it; rename the secret to "${p.secretNamePrefix}..." (or set secretNamePrefix to a prefix it has), or seal the credential into the registry instead ('mailfetch mailboxes update --password-stdin')`,
    );
  }
  return problems;
}

function storageProblems(given: MailFetcherProps, p: ResolvedMailFetcherProps): string[] {
  const problems: string[] = [];
  if (p.prefix === '' || !p.prefix.endsWith('/') || p.prefix.startsWith('/')) {
    problems.push(`prefix: must be non-empty, end with "/" and not start with "/" (got "${p.prefix}")`);
  } else if (/[*?]/.test(p.prefix)) {
    problems.push('prefix: must not contain "*" or "?" (they are IAM wildcards)');
  }
  if (given.bucket !== undefined) {
    const newBucketOnly = [
      'versioned',
      'transitions',
      'expiration',
      'abortIncompleteMultipartUploadAfter',
      'serverAccessLogsBucket',
    ] as const;
    for (const name of newBucketOnly) {
      if (given[name] !== undefined) problems.push(`${name}: applies to a new bucket only; it cannot be combined with bucket`);
    }
  }
  const importedKey = given.bucket?.encryptionKey;
  if (importedKey !== undefined && given.encryptionKey !== undefined && importedKey !== given.encryptionKey) {
    problems.push('encryptionKey: bucket already names its key (imported with encryptionKey); give one of them');
  }
  if (p.expiration !== undefined) requireWholeDays(problems, 'expiration', p.expiration);
  requireWholeDays(problems, 'abortIncompleteMultipartUploadAfter', p.abortIncompleteMultipartUploadAfter);
  return problems;
}

function functionProblems(p: ResolvedMailFetcherProps): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(p.memorySize) || p.memorySize < MIN_MEMORY_MIB || p.memorySize > MAX_MEMORY_MIB) {
    problems.push(`memorySize: must be a whole number of MiB from ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB} (got ${p.memorySize})`);
  }
  const timeout = seconds(p.timeout);
  const timeoutOk = timeout !== undefined && timeout >= MIN_TIMEOUT.toSeconds() && timeout <= MAX_TIMEOUT.toSeconds();
  if (!timeoutOk) {
    problems.push(`timeout: must be from ${MIN_TIMEOUT.toHumanString()} to ${MAX_TIMEOUT.toHumanString()} (got ${human(p.timeout)})`);
  }
  const margin = seconds(p.safetyMargin);
  if (margin === undefined || (timeoutOk && margin >= (timeout ?? 0))) {
    problems.push(`safetyMargin: must be shorter than timeout (${human(p.timeout)}) (got ${human(p.safetyMargin)})`);
  }
  const reserved = p.reservedConcurrentExecutions;
  if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
    problems.push(`reservedConcurrentExecutions: must be a whole number of at least 1 (got ${reserved})`);
  }
  const ns = p.metricsNamespace;
  if (ns.length === 0 || ns.length > MAX_NAMESPACE_CHARS || ns.startsWith('AWS/') || ns.includes(':')) {
    problems.push(`metricsNamespace: must be 1 to ${MAX_NAMESPACE_CHARS} characters, without ":" and not starting with "AWS/"`);
  }
  return problems;
}

function networkProblems(p: ResolvedMailFetcherProps): string[] {
  const problems: string[] = [];
  if (p.vpc !== undefined && p.fixedEgressIp) {
    problems.push('fixedEgressIp: creates its own VPC; it cannot be combined with vpc (give your VPC NAT gateways with Elastic IPs instead)');
  }
  if (p.vpcSubnets !== undefined && p.vpc === undefined) problems.push('vpcSubnets: only applies with vpc');
  return problems;
}

function dispatchProblems(given: MailFetcherProps, p: ResolvedMailFetcherProps): string[] {
  const problems: string[] = [];
  const max = p.maxConcurrentInvocations;
  if (!Number.isInteger(max) || max < MIN_CONCURRENT_INVOCATIONS || max > MAX_CONCURRENT_INVOCATIONS) {
    problems.push(`maxConcurrentInvocations: must be a whole number from ${MIN_CONCURRENT_INVOCATIONS} to ${MAX_CONCURRENT_INVOCATIONS} (got ${max})`);
  }
  const reserved = p.reservedConcurrentExecutions;
  if (reserved !== undefined && Number.isInteger(reserved) && reserved >= 1) {
    if (reserved < MIN_CONCURRENT_INVOCATIONS) {
      problems.push(`reservedConcurrentExecutions: must be at least ${MIN_CONCURRENT_INVOCATIONS}: the run queue's event source mapping needs that many (got ${reserved})`);
    } else if (given.maxConcurrentInvocations !== undefined && max > reserved) {
      problems.push(`maxConcurrentInvocations: must not exceed reservedConcurrentExecutions (${reserved}); throttled deliveries would count towards the dead-letter queue (got ${max})`);
    }
  }
  const limits: [string, number][] = [['hostSessionLimit', p.hostSessionLimit], ...Object.entries(p.hostSessionLimits ?? {}).map(([host, n]): [string, number] => [`hostSessionLimits["${host}"]`, n])];
  for (const [name, n] of limits) {
    if (!Number.isInteger(n) || n < 1 || n > MAX_HOST_SESSIONS) problems.push(`${name}: must be a whole number from 1 to ${MAX_HOST_SESSIONS} (got ${n})`);
  }
  for (const host of Object.keys(p.hostSessionLimits ?? {})) if (host.trim() === '') problems.push('hostSessionLimits: a host name must not be empty');
  const per = p.mailboxesPerMessage;
  if (!Number.isInteger(per) || per < 1 || per > MAX_BATCH_MAILBOXES) {
    problems.push(`mailboxesPerMessage: must be a whole number from 1 to ${MAX_BATCH_MAILBOXES} (got ${per})`);
  }
  return problems;
}

function alarmProblems(p: ResolvedMailFetcherProps): string[] {
  const problems: string[] = [];
  const n = p.missedRunPeriods;
  if (!Number.isInteger(n) || n < 1) problems.push(`missedRunPeriods: must be a whole number of at least 1 (got ${n})`);
  const cron = seconds(p.cronAlarmPeriod);
  if (cron === undefined || cron < 60 || cron % 60 !== 0) problems.push(`cronAlarmPeriod: must be a whole number of minutes (got ${human(p.cronAlarmPeriod)})`);
  const percent = p.failedRunAlarmPercent;
  if (!Number.isFinite(percent) || percent <= 0 || percent > MAX_PERCENT) {
    problems.push(`failedRunAlarmPercent: must be greater than 0 and at most ${MAX_PERCENT} (got ${percent})`);
  }
  return [...problems, ...detailedMetricsProblems(p.detailedMetricsMailboxes)];
}

function detailedMetricsProblems(ids: readonly string[]): string[] {
  const problems: string[] = [];
  if (ids.length > MAX_DETAILED_METRICS_MAILBOXES) {
    problems.push(`detailedMetricsMailboxes: at most ${MAX_DETAILED_METRICS_MAILBOXES} mailboxes (got ${ids.length}); the others are in the fleet metrics and mailfetch mailboxes status`);
  }
  const seen = new Set<string>();
  ids.forEach((id, index) => {
    if (validId(id) === undefined) problems.push(`detailedMetricsMailboxes[${index}]: ${JSON.stringify(id)} is not a mailbox id (letters, digits, ".", "_", "-"; at most 64)`);
    else if (seen.has(id)) problems.push(`detailedMetricsMailboxes: "${id}" is listed more than once`);
    seen.add(id);
  });
  return problems;
}

function eventsProblems(p: ResolvedMailFetcherProps): string[] {
  if (typeof p.events.enabled !== 'boolean') return [`events.enabled: must be true or false (got ${String(p.events.enabled)})`];
  return !p.events.enabled && p.events.eventBus !== undefined ? ['events.eventBus: only applies with events enabled'] : [];
}

function requireWholeDays(problems: string[], name: string, value: Duration): void {
  const s = seconds(value);
  if (s === undefined || s < 86_400 || s % 86_400 !== 0) problems.push(`${name}: must be a whole number of days, at least 1 (got ${human(value)})`);
}

/** Whole seconds, or undefined for tokens and fractions (which CloudFormation would reject). */
function seconds(value: Duration): number | undefined {
  if (value.isUnresolved()) return undefined;
  try {
    return value.toSeconds();
  } catch {
    return undefined;
  }
}

function human(value: Duration): string {
  return value.isUnresolved() ? '<token>' : value.toHumanString();
}
