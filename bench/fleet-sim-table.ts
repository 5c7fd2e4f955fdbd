/** The simulation's figures as a plain-text table for the console. */
import type { PerCheck } from './fleet-sim-figures';
import type { FleetSimRecord } from './fleet-sim';

/** The figures per mailbox check, as label and formatter: the console table and docs/cost.md. */
export const PER_CHECK_ROWS: readonly (readonly [string, (p: PerCheck) => string])[] = [
  ['mailbox checks', (p) => p.checks.toLocaleString('en-US')],
  ['wall time of the sweep (this machine)', (p) => `${p.wallSeconds.toFixed(0)} s (${p.checksPerSecond.toFixed(0)} checks/s)`],
  ['DynamoDB requests per check (worker)', (p) => fmtOps(p.dynamoRequests)],
  ['DynamoDB read units per check', (p) => `${p.readUnits.toFixed(2)}${p.estimatedReadUnits > 0 ? ` (of which ${p.estimatedReadUnits.toFixed(3)} Queries that found nothing)` : ''}`],
  ['DynamoDB write units per check', (p) => `${p.writeUnits.toFixed(2)}${p.estimatedWriteUnits > 0 ? ` (of which ${p.estimatedWriteUnits.toFixed(3)} failed conditions)` : ''}`],
  ['S3 requests per check', (p) => fmtOps(p.s3Requests) || 'none'],
  ['SQS requests per check', (p) => fmtOps(p.sqsRequests)],
  ['KMS requests per check', (p) => p.kmsRequests.toFixed(4)],
  ['EventBridge PutEvents per check', (p) => `${p.putEvents.requests.toFixed(4)} requests, ${p.putEvents.events.toFixed(4)} events`],
  ['Lambda invocations per check', (p) => `${p.invocations.toFixed(3)} (${p.mailboxesPerInvocation.toFixed(1)} mailboxes each)`],
  ['handler time per check (local endpoints)', (p) => `${p.handlerMs.toFixed(0)} ms`],
  ['process CPU per check (worker + dispatcher + the fakes)', (p) => `${p.cpuMs.toFixed(1)} ms`],
  ['POP3 sessions per check', (p) => `${p.pop3Sessions.toFixed(3)} (${p.pop3Commands.toFixed(1)} commands each)`],
  ['log bytes per check (worker stdout)', (p) => `${p.logBytes.total.toFixed(0)}: summary ${p.logBytes.summary.toFixed(0)}, EMF ${p.logBytes.emf.toFixed(0)}, other ${p.logBytes.other.toFixed(0)} (${p.logLines.toFixed(2)} lines)`],
];

export function fleetSimTable(r: FleetSimRecord): string {
  const rows = PER_CHECK_ROWS;
  const width = Math.max(...rows.map(([name]) => name.length));
  const lines = [
    `fleet simulation: ${r.settings.mailboxes} mailboxes, ${r.settings.maxConcurrency} invocations at once, ${r.settings.mailboxesPerMessage} mailboxes per message (baseline sweep ${r.baselineSeconds.toFixed(1)} s)`,
    '',
    `${''.padEnd(width)}  | no new mail | ${r.delivered.mailboxes} mailboxes with ${r.delivered.messages} new messages`,
    ...rows.map(([name, f]) => `${name.padEnd(width)}  | ${f(r.idle)} | ${f(r.mail)}`),
    '',
    `dispatcher tick: ${fmtOps(r.tick.dynamoRequests)}; ${r.tick.readUnits.toFixed(1)} read units; ${r.tick.sendMessageBatch} SendMessageBatch for ${r.tick.queueMessages} messages; ${r.tick.logBytes} log bytes; ${(r.tick.seconds * 1000).toFixed(0)} ms`,
  ];
  return lines.join('\n');
}

export function fmtOps(ops: Readonly<Record<string, number>>): string {
  return Object.entries(ops)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${n.toFixed(n >= 10 ? 0 : 2)}`)
    .join(', ');
}
