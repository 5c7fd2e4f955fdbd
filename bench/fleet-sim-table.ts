/** The simulation's figures as a plain-text table for the console. */
import type { PerCheck } from './fleet-sim-figures';
import type { FleetSimRecord } from './fleet-sim';

export function fleetSimTable(r: FleetSimRecord): string {
  const rows: [string, (p: PerCheck) => string][] = [
    ['mailbox checks', (p) => String(p.checks)],
    ['wall time of the sweep', (p) => `${p.wallSeconds.toFixed(1)} s (${p.checksPerSecond.toFixed(0)} checks/s)`],
    ['DynamoDB requests / check', (p) => fmtOps(p.dynamoRequests)],
    ['DynamoDB read units / check', (p) => p.readUnits.toFixed(2)],
    ['DynamoDB write units / check', (p) => `${p.writeUnits.toFixed(2)}${p.estimatedWriteUnits > 0 ? ` (${p.estimatedWriteUnits.toFixed(3)} for failed conditions)` : ''}`],
    ['S3 requests / check', (p) => fmtOps(p.s3Requests) || '0'],
    ['SQS requests / check', (p) => fmtOps(p.sqsRequests)],
    ['KMS requests / check', (p) => p.kmsRequests.toFixed(4)],
    ['Lambda invocations / check', (p) => `${p.invocations.toFixed(3)} (${p.mailboxesPerInvocation.toFixed(1)} mailboxes each)`],
    ['handler time / check', (p) => `${p.handlerMs.toFixed(1)} ms`],
    ['process CPU / check', (p) => `${p.cpuMs.toFixed(1)} ms`],
    ['POP3 sessions / check', (p) => p.pop3Sessions.toFixed(3)],
    ['log bytes / check', (p) => `${p.logBytes.total.toFixed(0)} (summary ${p.logBytes.summary.toFixed(0)}, EMF ${p.logBytes.emf.toFixed(0)}, other ${p.logBytes.other.toFixed(0)})`],
  ];
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
