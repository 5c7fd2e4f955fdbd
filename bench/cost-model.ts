/**
 * The monthly cost of a fleet polled every 5 minutes, from the simulation's figures per
 * mailbox check and list prices (us-east-1, before free tiers unless a line says so). Each
 * price names where it was read and when; docs/cost.md prints them with the arithmetic.
 */
import type { FleetSimRecord } from './fleet-sim';
import type { PerCheck, PerTick } from './fleet-sim-figures';

export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly source: string;
}

/** List prices, us-east-1. */
export const PRICES = {
  lambdaGbSecondArm: { usd: 0.0000133334, unit: 'GB-s (arm64, first 7.5 billion a month)', source: 'cloudchipr.com "AWS Lambda Pricing Breakdown" (2024), from aws.amazon.com/lambda/pricing' },
  lambdaRequest: { usd: 0.2 / 1e6, unit: 'request', source: 'the same; 1 million requests and 400,000 GB-s a month are free (not deducted here)' },
  dynamoWrite: { usd: 0.625 / 1e6, unit: 'write request unit (on-demand)', source: 'airbyte.com "Amazon DynamoDB Pricing" (July 2025): the November 2024 price (50 % below the earlier $1.25)' },
  dynamoRead: { usd: 0.125 / 1e6, unit: 'read request unit (on-demand)', source: 'the same' },
  dynamoStorage: { usd: 0.25, unit: 'GB-month (first 25 GB free)', source: 'aws.amazon.com/dynamodb/pricing (Standard table class; date not shown)' },
  dynamoWcuHour: { usd: 0.00065, unit: 'provisioned WCU-hour', source: 'zeonedge.com DynamoDB cost guide (undated)' },
  dynamoRcuHour: { usd: 0.00013, unit: 'provisioned RCU-hour', source: 'the same' },
  sqsRequest: { usd: 0.4 / 1e6, unit: 'request (standard queue, per 64 KB chunk)', source: 'cloudburn.io "Amazon SQS Pricing" (March 2026); 1 million a month free' },
  schedulerInvocation: { usd: 1 / 1e6, unit: 'invocation after 14 million free a month', source: 'README "Fleet dispatch" (third-party summary of the AWS page, 2026)' },
  kmsKey: { usd: 1, unit: 'customer managed key-month', source: 'cloudburn.io "AWS KMS Pricing" (March 2026), wring.co (March 2026)' },
  kmsRequest: { usd: 0.03 / 1e4, unit: 'request (20,000 a month free)', source: 'the same' },
  secret: { usd: 0.4, unit: 'secret-month', source: 'hivebook.wiki "AWS Secrets Manager" (undated): $0.40 per secret and $0.05 per 10,000 API calls' },
  secretCall: { usd: 0.05 / 1e4, unit: 'API call', source: 'the same' },
  metric: { usd: 0.3, unit: 'custom metric-month (first 10,000)', source: 'signoz.io "CloudWatch Pricing" (February 2026)' },
  alarm: { usd: 0.1, unit: 'standard-resolution alarm metric-month', source: 'cloudburn.io "Amazon CloudWatch Pricing" (February 2026, from the AWS page)' },
  dashboard: { usd: 3, unit: 'dashboard-month (3 free)', source: 'factualminds.com "Amazon CloudWatch Pricing" (June 2026)' },
  logIngest: { usd: 0.5, unit: 'GB ingested (standard log class)', source: 'the same' },
  logStorage: { usd: 0.03, unit: 'GB-month archived', source: 'cloudburn.io "Amazon CloudWatch Pricing" (February 2026)' },
  eventBridgeEvent: {
    usd: 1 / 1e6,
    unit: 'custom event published (per 64 KB chunk; up to 10 events per PutEvents request)',
    source: 'cloudburn.io "Amazon EventBridge Pricing" (March 2026): custom events on any bus, us-east-1; delivery to targets in the same account free',
  },
  s3Put: { usd: 0.005 / 1000, unit: 'PUT request', source: 'README "Costs" (S3 Standard list price)' },
  s3Storage: { usd: 0.023, unit: 'GB-month (S3 Standard, first 50 TB)', source: 'aws.amazon.com/s3/pricing (date not shown)' },
} as const satisfies Record<string, Price>;

/** The fleet the model prices. */
export const FLEET = {
  mailboxes: 10_000,
  periodMinutes: 5,
  /** A 30-day month, as the README's figures. */
  days: 30,
  workerMemoryGb: 0.5,
  dispatcherMemoryGb: 0.25,
  /** Sessions one invocation runs at once (DEFAULT_RUN_CONCURRENCY). */
  lanes: 4,
  /** Worker custom metrics (no dimension) + Errors by a few codes + queue + dispatcher metrics. */
  metrics: { worker: 14, errors: 1 + 3, queue: 2, dispatcher: 7 },
  alarms: 6,
  dashboards: 1,
  /** Lambda writes START, END and REPORT per invocation (~100, ~80 and ~200 bytes). */
  platformLogBytesPerInvocation: 380,
  /** CloudWatch Logs counts 26 bytes of metadata per event (PutLogEvents quota rule, counted here too). */
  logEventOverheadBytes: 26,
  /** Lambda's SQS pollers long-poll (20 s): at most ~5 of them × 3 a minute find the queue empty. */
  emptyReceivesPerMinute: 15,
  /** A container decrypts the data key once; containers are replaced every few hours. */
  kmsDecryptsPerMonth: 10 * 12 * 30,
} as const;

export const CHECKS_PER_MONTH = FLEET.mailboxes * (60 / FLEET.periodMinutes) * 24 * FLEET.days;
export const TICKS_PER_MONTH = 60 * 24 * FLEET.days;

/**
 * How long an idle check takes in Lambda: DynamoDB requests in series, the POP3 session's
 * round trips (connect, TLS, then each command) plus the server's login time, and the CPU
 * (the measured CPU scaled to the share of a vCPU the function gets).
 */
export interface Latency {
  readonly name: string;
  readonly dynamoMs: number;
  readonly rttMs: number;
  readonly loginMs: number;
}

export const LATENCIES: readonly Latency[] = [
  { name: 'near (same region: 2 ms RTT, 20 ms login)', dynamoMs: 5, rttMs: 2, loginMs: 20 },
  { name: 'typical (25 ms RTT, 100 ms login)', dynamoMs: 5, rttMs: 25, loginMs: 100 },
  { name: 'far or slow (80 ms RTT, 400 ms login)', dynamoMs: 5, rttMs: 80, loginMs: 400 },
];
/** Lambda gives a full vCPU at 1,769 MB: 512 MB gets 0.29 of one. */
const CPU_SCALE = 1769 / 512;
/** Connect and TLS handshake before the first command. */
const SESSION_SETUP_ROUND_TRIPS = 2;

export interface CostLine {
  readonly item: string;
  readonly quantity: string;
  readonly usd: number;
}

export interface Billed {
  /** Seconds per check, and how they were reached. */
  readonly secondsPerCheck: number;
  readonly explain: string;
}

/** Billed Lambda seconds per check: the lanes overlap waiting, not the (fractional) CPU. */
export function billedPerCheck(p: PerCheck, perMessage: number, latency: Latency): Billed {
  const dynamoRequests = Object.values(p.dynamoRequests).reduce((a, b) => a + b, 0);
  const cpuMs = p.cpuMs * CPU_SCALE;
  const waitMs = dynamoRequests * latency.dynamoMs + (SESSION_SETUP_ROUND_TRIPS + p.pop3Commands) * latency.rttMs + latency.loginMs;
  const laneShare = Math.ceil(perMessage / FLEET.lanes) / perMessage;
  const ms = Math.max(cpuMs, (waitMs + cpuMs) * laneShare);
  return {
    secondsPerCheck: ms / 1000,
    explain:
      `(${dynamoRequests.toFixed(1)} DynamoDB requests × ${latency.dynamoMs} ms + ${(SESSION_SETUP_ROUND_TRIPS + p.pop3Commands).toFixed(1)} round trips × ${latency.rttMs} ms + ${latency.loginMs} ms login + ` +
      `${cpuMs.toFixed(0)} ms CPU) × ${laneShare.toFixed(2)} (${perMessage} mailboxes on ${FLEET.lanes} lanes) = ${ms.toFixed(0)} ms`,
  };
}

const M = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} k` : n.toFixed(0));

/** The itemised month for one kind of sweep (idle, or with 1 % new mail). */
export function monthlyCost(r: FleetSimRecord, p: PerCheck, tick: PerTick, latency: Latency, withMail: boolean): CostLine[] {
  const checks = CHECKS_PER_MONTH;
  const invocations = p.invocations * checks;
  const billed = billedPerCheck(p, r.settings.mailboxesPerMessage, latency);
  const gbs = billed.secondsPerCheck * FLEET.workerMemoryGb * checks;
  const dispatcherGbs = tick.seconds * FLEET.dispatcherMemoryGb * TICKS_PER_MONTH;
  const sqs = {
    sends: (p.sqsRequests.SendMessageBatch ?? 0) * checks + (p.sqsRequests.SendMessage ?? 0) * checks,
    receives: invocations + FLEET.emptyReceivesPerMinute * TICKS_PER_MONTH,
    deletes: (p.sqsRequests.DeleteMessageBatch ?? 0) * checks,
  };
  const sqsTotal = sqs.sends + sqs.receives + sqs.deletes;
  const logEvents = p.logLines * checks + 3 * invocations;
  const logBytes = p.logBytes.total * checks + FLEET.platformLogBytesPerInvocation * invocations + FLEET.logEventOverheadBytes * logEvents;
  const dispatcherLogBytes = (tick.logBytes + 3 * 100) * TICKS_PER_MONTH;
  const logGb = (logBytes + dispatcherLogBytes) / 1e9;
  const metrics = Object.values(FLEET.metrics).reduce((a, b) => a + b, 0);
  const lines: CostLine[] = [
    { item: 'Lambda worker: requests', quantity: `${p.invocations.toFixed(3)} invocations/check × ${M(checks)} checks = ${M(invocations)} × $0.20/M`, usd: invocations * PRICES.lambdaRequest.usd },
    {
      item: 'Lambda worker: duration (arm64, 512 MiB)',
      quantity: `${billed.explain} per check × ${M(checks)} × 0.5 GB = ${M(gbs)} GB-s × $0.0000133334`,
      usd: gbs * PRICES.lambdaGbSecondArm.usd,
    },
    {
      item: 'Lambda dispatcher (256 MiB, every minute)',
      quantity: `${M(TICKS_PER_MONTH)} ticks × ${tick.seconds.toFixed(2)} s × 0.25 GB = ${M(dispatcherGbs)} GB-s, + ${M(TICKS_PER_MONTH)} requests`,
      usd: dispatcherGbs * PRICES.lambdaGbSecondArm.usd + TICKS_PER_MONTH * PRICES.lambdaRequest.usd,
    },
    { item: 'EventBridge Scheduler (the one schedule)', quantity: `${M(TICKS_PER_MONTH)} invocations, inside the 14 M free`, usd: 0 },
    {
      item: 'SQS run queue',
      quantity: `${M(sqs.sends)} sends + ${M(sqs.receives)} receives (${M(FLEET.emptyReceivesPerMinute * TICKS_PER_MONTH)} of them empty long polls) + ${M(sqs.deletes)} deletes = ${M(sqsTotal)} × $0.40/M`,
      usd: sqsTotal * PRICES.sqsRequest.usd,
    },
    {
      item: 'DynamoDB writes: worker (on-demand)',
      quantity: `${p.writeUnits.toFixed(2)} WRU/check × ${M(checks)} = ${M(p.writeUnits * checks)} × $0.625/M`,
      usd: p.writeUnits * checks * PRICES.dynamoWrite.usd,
    },
    {
      item: 'DynamoDB reads: worker',
      quantity: `${p.readUnits.toFixed(2)} RRU/check × ${M(checks)} = ${M(p.readUnits * checks)} × $0.125/M`,
      usd: p.readUnits * checks * PRICES.dynamoRead.usd,
    },
    {
      item: 'DynamoDB: dispatcher (registry Query, cursor)',
      quantity: `${tick.readUnits.toFixed(0)} RRU + ${tick.writeUnits.toFixed(0)} WRU per tick × ${M(TICKS_PER_MONTH)}`,
      usd: TICKS_PER_MONTH * (tick.readUnits * PRICES.dynamoRead.usd + tick.writeUnits * PRICES.dynamoWrite.usd),
    },
    { item: 'DynamoDB storage', quantity: '10,000 registry items (~1 KB) + state: well under the 25 GB free', usd: 0 },
    {
      item: 'Credentials: KMS key + data key Decrypts (sealed in the registry)',
      quantity: `1 key × $1 + ~${M(FLEET.kmsDecryptsPerMonth)} Decrypts (one per container start; measured ${p.kmsRequests.toFixed(4)}/check), inside 20,000 free`,
      usd: PRICES.kmsKey.usd,
    },
    {
      item: 'EventBridge PutEvents (Mail Stored events)',
      quantity: `${p.putEvents.events.toFixed(4)} events/check × ${M(checks)} = ${M(p.putEvents.events * checks)} (in ${M(p.putEvents.requests * checks)} requests) × $1.00/M`,
      usd: p.putEvents.events * checks * PRICES.eventBridgeEvent.usd,
    },
    { item: 'CloudWatch custom metrics (EMF)', quantity: `${metrics} metrics (no mailbox dimension) × $0.30`, usd: metrics * PRICES.metric.usd },
    { item: 'CloudWatch alarms', quantity: `${FLEET.alarms} × $0.10`, usd: FLEET.alarms * PRICES.alarm.usd },
    { item: 'CloudWatch dashboard', quantity: `${FLEET.dashboards} × $3 (3 a month are free: then $0)`, usd: FLEET.dashboards * PRICES.dashboard.usd },
    {
      item: 'CloudWatch Logs: ingestion',
      quantity: `(${p.logBytes.total.toFixed(0)} B/check + ${FLEET.platformLogBytesPerInvocation} B Lambda lines/invocation + 26 B/event) × … + dispatcher = ${logGb.toFixed(1)} GB × $0.50`,
      usd: logGb * PRICES.logIngest.usd,
    },
    { item: 'CloudWatch Logs: storage (1-month retention)', quantity: `≤ ${logGb.toFixed(1)} GB held × $0.03 (uncompressed: an upper bound)`, usd: logGb * PRICES.logStorage.usd },
  ];
  if (withMail) {
    const puts = (p.s3Requests.PutObject ?? 0) * checks;
    const gb = (puts * 1_500) / 1e9;
    lines.push({ item: 'S3: new messages (PUT + a month of storage)', quantity: `${(p.s3Requests.PutObject ?? 0).toFixed(4)} PUT/check × ${M(checks)} = ${M(puts)} × $0.005/1,000; +${gb.toFixed(1)} GB × $0.023`, usd: puts * PRICES.s3Put.usd + gb * PRICES.s3Storage.usd });
  }
  return lines;
}

export function total(lines: readonly CostLine[]): number {
  return lines.reduce((a, l) => a + l.usd, 0);
}

/** Half a read unit: the eventually consistent Query of an empty outbox, once per run. */
const OUTBOX_QUERY_READ_UNITS = 0.5;
/** One write to add a batch of stored records to the outbox, one to settle it. */
const OUTBOX_WRITES_PER_BATCH = 2;

/**
 * What `events: { enabled: false }` saves in the month with new mail: the PutEvents line and
 * the outbox's DynamoDB units (counted in the worker's measured units). Each receiving
 * mailbox of the simulation stores its 1-3 messages in one batch (up to 25).
 */
export function eventsCost(r: FleetSimRecord): { putEvents: number; outboxReads: number; outboxWrites: number; batchesPerCheck: number; explain: string } {
  const batchesPerCheck = r.delivered.mailboxes / Math.max(1, r.mail.checks);
  const putEvents = r.mail.putEvents.events * CHECKS_PER_MONTH * PRICES.eventBridgeEvent.usd;
  const outboxReads = OUTBOX_QUERY_READ_UNITS * CHECKS_PER_MONTH * PRICES.dynamoRead.usd;
  const outboxWrites = OUTBOX_WRITES_PER_BATCH * batchesPerCheck * CHECKS_PER_MONTH * PRICES.dynamoWrite.usd;
  return {
    putEvents,
    outboxReads,
    outboxWrites,
    batchesPerCheck,
    explain:
      `${OUTBOX_QUERY_READ_UNITS} RRU/check (the outbox Query) × ${M(CHECKS_PER_MONTH)} × $0.125/M = USD ${outboxReads.toFixed(2)}, ` +
      `${OUTBOX_WRITES_PER_BATCH} WRU per batch of stored records × ${batchesPerCheck.toFixed(4)} batches/check × ${M(CHECKS_PER_MONTH)} × $0.625/M = USD ${outboxWrites.toFixed(2)}`,
  };
}

/** Secrets Manager instead of sealed values: one secret per mailbox, read once per container and 5 minutes. */
export function secretsManagerInstead(): CostLine {
  const calls = CHECKS_PER_MONTH / 4;
  return {
    item: 'for comparison: Secrets Manager instead of sealed values',
    quantity: `10,000 secrets × $0.40 + ~${M(calls)} GetSecretValue (5-minute cache per container) × $0.05/10,000`,
    usd: FLEET.mailboxes * PRICES.secret.usd + calls * PRICES.secretCall.usd,
  };
}

/** DynamoDB in provisioned mode with auto scaling instead of on-demand (the steady load of a polled fleet). */
export function provisionedInstead(p: PerCheck, tick: PerTick): CostLine {
  const perSecond = CHECKS_PER_MONTH / (TICKS_PER_MONTH * 60);
  const wcu = Math.ceil((p.writeUnits * perSecond) / 0.7);
  const rcu = Math.ceil((p.readUnits * perSecond + tick.readUnits / 60) / 0.7);
  const hours = 24 * FLEET.days;
  return {
    item: 'for comparison: the table in provisioned mode (auto scaling at 70 % utilisation)',
    quantity: `${wcu} WCU × ${hours} h × $0.00065 + ${rcu} RCU × ${hours} h × $0.00013`,
    usd: wcu * hours * PRICES.dynamoWcuHour.usd + rcu * hours * PRICES.dynamoRcuHour.usd,
  };
}
