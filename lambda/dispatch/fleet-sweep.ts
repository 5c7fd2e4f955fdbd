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
    const slot = timetable.next(window.from);
    if (slot !== undefined && slot < window.to) this.due.push({ id: entry.id, slotMs: slot, ...(entry.host === undefined ? {} : { host: entry.host }) });
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
      maxLagSeconds: worst[0]?.lagSeconds ?? 0,
      stale: this.stale,
      worstLate: worst.slice(0, WORST_LATE_LISTED),
    };
  }
}

/** How long the mailbox's oldest unserved slot is overdue; undefined when it is not late. */
export function lagMs(entry: FleetEntry, timetable: Timetable, now: number): number | undefined {
  const reference = entry.lastRunAt ?? entry.createdAt;
  if (reference === undefined) return undefined;
  const firstDue = timetable.next(reference + 1);
  if (firstDue === undefined || firstDue > now - LATE_GRACE_MS) return undefined;
  return now - firstDue;
}

/**
 * No success since the N-th last slot (counted from LATE_GRACE_MS ago, so the run of the
 * slot that just passed may still finish). A mailbox created after that slot is not stale.
 */
export function isStale(entry: FleetEntry, timetable: Timetable, now: number, periods: number): boolean {
  let slot = timetable.prev(now - LATE_GRACE_MS);
  for (let i = 1; i < periods && slot !== undefined; i++) slot = timetable.prev(slot - 1);
  if (slot === undefined) return false;
  const since = entry.lastSuccessAt ?? entry.createdAt ?? Number.NEGATIVE_INFINITY;
  return since < slot;
}
