/**
 * One pass over the registry, page by page: which enabled mailboxes are due in this tick's
 * window, and how the fleet is doing against its schedules. Lateness is derived from the
 * health the worker already writes (`lastRunAt`, `lastSuccessAt`), so dispatching costs
 * no write per mailbox:
 *
 * - late: the first slot after the mailbox's last run (or its creation) is more than
 *   LATE_GRACE_MS in the past: it was due and has not run. Lag = now - that slot.
 * - stale: no successful run since the N-th last slot (N = stalePeriods), i.e. no success
 *   in N periods of its own schedule.
 *
 * A server that announced LOGIN-DELAY (RFC 2449) refuses logins more frequent than that: a
 * mailbox scheduled more often is not dispatched before the `nextLoginAt` its last run
 * recorded (those slots are "waiting", not late, and no failure), and is run when the delay
 * ends; lateness and staleness are counted against that pace, not against the schedule's.
 */
import type { Timetable, TimetableFactory } from '../schedule/timetable';
import type { FleetEntry } from './registry-scan';

/**
 * A run ends a few seconds after its slot (queue delay, pick-up, the POP3 session); one
 * that ended more than this after its slot, or has not ended, counts as late.
 */
export const LATE_GRACE_MS = 2 * 60_000;
/** The most late mailboxes a tick names in its log line. */
const WORST_LATE_LISTED = 10;

/** Slots in [from, to) are dispatched by this tick (epoch ms). */
export interface DispatchWindow {
  readonly from: number;
  readonly to: number;
}

export interface DueRun {
  readonly id: string;
  readonly host?: string;
  /** The slot this run serves (epoch ms). */
  readonly slotMs: number;
}

export interface SweepResult {
  readonly due: readonly DueRun[];
  readonly enabled: number;
  readonly disabled: number;
  /** Ids whose schedule cannot be evaluated (fix with `mailfetch mailboxes update`). */
  readonly unschedulable: readonly string[];
  readonly late: number;
  /** Mailboxes with a slot in the window that is held back, not run, until their server's LOGIN-DELAY ends. */
  readonly waitingForLoginDelay: number;
  /** The largest lag of a late mailbox, in seconds (0 when none is late). */
  readonly maxLagSeconds: number;
  readonly stale: number;
  /** The latest mailboxes first, at most WORST_LATE_LISTED. */
  readonly worstLate: readonly { readonly id: string; readonly lagSeconds: number }[];
}

export interface FleetSweepOptions {
  readonly window: DispatchWindow;
  readonly now: number;
  readonly stalePeriods: number;
  readonly timetables: TimetableFactory;
}

export class FleetSweep {
  private readonly due: DueRun[] = [];
  private readonly lateLags: { id: string; lagSeconds: number }[] = [];
  private readonly unschedulable: string[] = [];
  private enabled = 0;
  private disabled = 0;
  private stale = 0;
  private waiting = 0;

  constructor(private readonly options: FleetSweepOptions) {}

  add(entry: FleetEntry): void {
    if (!entry.enabled) {
      this.disabled++;
      return;
    }
    this.enabled++;
    let timetable: Timetable;
    try {
      timetable = this.options.timetables.for(entry.schedule, entry.id);
    } catch {
      this.unschedulable.push(entry.id);
      return;
    }
    const { window, now } = this.options;
    const { run, waiting } = dueRun(entry, timetable, window);
    if (run !== undefined) this.due.push({ id: entry.id, slotMs: run, ...(entry.host === undefined ? {} : { host: entry.host }) });
    if (waiting) this.waiting++;
    const lag = lagMs(entry, timetable, now);
    if (lag !== undefined) this.lateLags.push({ id: entry.id, lagSeconds: Math.round(lag / 1000) });
    if (isStale(entry, timetable, now, this.options.stalePeriods)) this.stale++;
  }

  result(): SweepResult {
    const worst = [...this.lateLags].sort((a, b) => b.lagSeconds - a.lagSeconds || a.id.localeCompare(b.id));
    return {
      due: this.due,
      enabled: this.enabled,
      disabled: this.disabled,
      unschedulable: this.unschedulable,
      late: this.lateLags.length,
      waitingForLoginDelay: this.waiting,
      maxLagSeconds: worst[0]?.lagSeconds ?? 0,
      stale: this.stale,
      worstLate: worst.slice(0, WORST_LATE_LISTED),
    };
  }
}

/**
 * The run this window owes the mailbox (epoch ms), if any: its first slot in the window,
 * unless the server's login delay has not passed by then (`waiting`). A slot skipped for
 * the delay is served when the delay ends, if that is in this window: a mailbox scheduled
 * more often than its server allows then runs as often as allowed, not at some later slot.
 */
export function dueRun(entry: FleetEntry, timetable: Timetable, window: DispatchWindow): { run: number | undefined; waiting: boolean } {
  const inWindow = (t: number | undefined): number | undefined => (t !== undefined && t >= window.from && t < window.to ? t : undefined);
  const first = timetable.next(window.from);
  const notBefore = entry.nextLoginAt;
  if (notBefore === undefined) return { run: inWindow(first), waiting: false };
  // The first slot after the last run fell before the delay's end: it is served at that end.
  const skipped = timetable.next((entry.lastRunAt ?? notBefore) + 1);
  const owed = inWindow(skipped !== undefined && skipped < notBefore ? notBefore : undefined);
  if (owed !== undefined) return { run: owed, waiting: false };
  if (first === undefined || first >= notBefore) return { run: inWindow(first), waiting: false };
  const run = inWindow(timetable.next(notBefore));
  return { run, waiting: run === undefined && inWindow(first) !== undefined };
}

/** How long the mailbox's oldest unserved slot is overdue; undefined when it is not late. */
export function lagMs(entry: FleetEntry, timetable: Timetable, now: number): number | undefined {
  const reference = entry.lastRunAt ?? entry.createdAt;
  if (reference === undefined) return undefined;
  const slot = timetable.next(reference + 1);
  // Held back by the server's login delay: due when it ends (see dueRun).
  const firstDue = slot !== undefined && entry.nextLoginAt !== undefined ? Math.max(slot, entry.nextLoginAt) : slot;
  if (firstDue === undefined || firstDue > now - LATE_GRACE_MS) return undefined;
  return now - firstDue;
}

/**
 * No success since the N-th last slot (counted from LATE_GRACE_MS ago, so the run of the
 * slot that just passed may still finish). A mailbox created after that slot is not stale.
 * Under a server's login delay the slots counted are at least that delay apart: the runs
 * it allows, not the schedule's.
 */
export function isStale(entry: FleetEntry, timetable: Timetable, now: number, periods: number): boolean {
  const spacing = Math.max(1, entry.loginDelayMs ?? 0);
  let slot = timetable.prev(now - LATE_GRACE_MS);
  for (let i = 1; i < periods && slot !== undefined; i++) slot = timetable.prev(slot - spacing);
  if (slot === undefined) return false;
  const since = entry.lastSuccessAt ?? entry.createdAt ?? Number.NEGATIVE_INFINITY;
  return since < slot;
}
