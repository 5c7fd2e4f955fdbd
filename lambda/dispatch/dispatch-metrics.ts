/**
 * The dispatcher's fleet-level metrics, one EMF document per tick, with no dimensions:
 * their number does not grow with the fleet. Names are shared with the CDK construct
 * (alarms on StaleMailboxes live in the metrics namespace the worker uses).
 */
import type { SweepResult } from './fleet-sweep';

export const DISPATCH_METRIC = {
  /** Enabled mailboxes with no successful run in N periods of their own schedule. Alarm on it. */
  STALE_MAILBOXES: 'StaleMailboxes',
  /** Enabled mailboxes whose due run has not happened (more than LATE_GRACE_MS after its slot). */
  LATE_MAILBOXES: 'LateMailboxes',
  /** How overdue the latest mailbox is, in seconds (0: none late). */
  DISPATCH_LAG_SECONDS: 'DispatchLagSeconds',
  /** Mailbox runs queued by the tick. */
  DISPATCHED_MAILBOXES: 'DispatchedMailboxes',
  /** Queue messages sent by the tick (several mailboxes each). */
  DISPATCH_MESSAGES: 'DispatchMessages',
  ENABLED_MAILBOXES: 'EnabledMailboxes',
  /** Enabled mailboxes whose schedule cannot be evaluated: they never run. */
  UNSCHEDULABLE_MAILBOXES: 'UnschedulableMailboxes',
} as const;

export function dispatchMetrics(sweep: SweepResult, messages: number, namespace: string, timestamp: number): object {
  const values: [string, number, string][] = [
    [DISPATCH_METRIC.STALE_MAILBOXES, sweep.stale, 'Count'],
    [DISPATCH_METRIC.LATE_MAILBOXES, sweep.late, 'Count'],
    [DISPATCH_METRIC.DISPATCH_LAG_SECONDS, sweep.maxLagSeconds, 'Seconds'],
    [DISPATCH_METRIC.DISPATCHED_MAILBOXES, sweep.due.length, 'Count'],
    [DISPATCH_METRIC.DISPATCH_MESSAGES, messages, 'Count'],
    [DISPATCH_METRIC.ENABLED_MAILBOXES, sweep.enabled, 'Count'],
    [DISPATCH_METRIC.UNSCHEDULABLE_MAILBOXES, sweep.unschedulable.length, 'Count'],
  ];
  const doc: Record<string, unknown> = {
    _aws: {
      Timestamp: timestamp,
      // One empty dimension set: the metrics have no dimensions at all.
      CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [[]], Metrics: values.map(([Name, , Unit]) => ({ Name, Unit })) }],
    },
  };
  for (const [name, value] of values) doc[name] = value;
  return doc;
}
