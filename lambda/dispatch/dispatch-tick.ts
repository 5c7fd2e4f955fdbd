/**
 * One dispatcher tick (every minute): read the registry, queue the runs whose slots fall in
 * this tick's window, spread over the minute and packed several mailboxes per message,
 * then report the fleet's lateness as metrics and one log line.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '../observability/logger';
import { TimetableFactory } from '../schedule/timetable';
import { DispatchCursor } from './dispatch-cursor';
import { dispatchMetrics } from './dispatch-metrics';
import { FleetSweep, type DispatchWindow, type SweepResult } from './fleet-sweep';
import { packMessages } from './pack-messages';
import { scanRegistry } from './registry-scan';
import { sendMessages } from './send-messages';

/** The dispatcher runs every minute (its one schedule); each tick covers to the end of its minute. */
export const TICK_MS = 60_000;
/** A longer outage is not caught up beyond this: those slots pass, the mailboxes show as late. */
export const MAX_CATCH_UP_MS = 24 * 60 * 60_000;

export interface DispatchDeps {
  readonly dynamodb: DynamoDBClient;
  readonly table: string;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly metricsNamespace: string;
  /** StaleMailboxes counts mailboxes with no success in this many periods. */
  readonly stalePeriods: number;
  /** Mailboxes per queue message (1 to the worker's MAX_BATCH_MAILBOXES). */
  readonly mailboxesPerMessage: number;
  /** IANA time zone of cron(...) schedules. @default UTC */
  readonly timeZone?: string;
  readonly log: Logger;
  /** Items per registry page. @default DynamoDB's 1 MB pages */
  readonly registryPageLimit?: number;
  /** Where the EMF line goes. @default stdout */
  readonly write?: (line: string) => void;
}

export interface DispatchSummary {
  readonly window: DispatchWindow;
  /** True when an earlier (or concurrent) tick had covered this window already. */
  readonly alreadyCovered: boolean;
  readonly sweep?: SweepResult;
  readonly messages: number;
  readonly requests: number;
}

export async function runDispatchTick(deps: DispatchDeps, now: number): Promise<DispatchSummary> {
  const cursor = new DispatchCursor(deps.dynamodb, deps.table);
  const coveredUntil = await cursor.read();
  const window = dispatchWindow(coveredUntil, now);
  if (window.from >= window.to) {
    deps.log.info('dispatch window already covered', { window: isoWindow(window) });
    return { window, alreadyCovered: true, messages: 0, requests: 0 };
  }
  const sweep = new FleetSweep({ window, now, stalePeriods: deps.stalePeriods, timetables: new TimetableFactory(deps.timeZone) });
  for await (const page of scanRegistry(deps.dynamodb, deps.table, deps.registryPageLimit)) for (const entry of page) sweep.add(entry);
  const result = sweep.result();
  const messages = packMessages(result.due, now, deps.mailboxesPerMessage);
  const sent = await sendMessages(deps.sqs, deps.queueUrl, messages);
  const committed = await cursor.commit(coveredUntil, window.to);
  const write = deps.write ?? ((line: string): void => void process.stdout.write(`${line}\n`));
  write(JSON.stringify(dispatchMetrics(result, messages.length, deps.metricsNamespace, now)));
  const level = result.unschedulable.length > 0 || result.stale > 0 ? 'warn' : 'info';
  deps.log[level]('dispatch tick', {
    window: isoWindow(window),
    dispatched: result.due.length,
    messages: messages.length,
    requests: sent.requests,
    enabled: result.enabled,
    disabled: result.disabled,
    late: result.late,
    waitingForLoginDelay: result.waitingForLoginDelay,
    maxLagSeconds: result.maxLagSeconds,
    stale: result.stale,
    worstLate: result.worstLate,
    unschedulable: result.unschedulable.slice(0, 20),
    ...(committed ? {} : { cursorMovedByAnotherTick: true }),
  });
  return { window, alreadyCovered: false, sweep: result, messages: messages.length, requests: sent.requests };
}

/** From the cursor (or one tick back) to the end of the current minute, at most MAX_CATCH_UP_MS. */
export function dispatchWindow(coveredUntil: number | undefined, now: number): DispatchWindow {
  const to = Math.floor(now / TICK_MS) * TICK_MS + TICK_MS;
  const from = Math.max(coveredUntil ?? to - TICK_MS, to - MAX_CATCH_UP_MS);
  return { from, to };
}

function isoWindow(window: DispatchWindow): { from: string; to: string } {
  return { from: new Date(window.from).toISOString(), to: new Date(window.to).toISOString() };
}
