/**
 * Progress of a fetch, one mailbox at a time. On a terminal: one line per mailbox, redrawn
 * in place (fetched/new with the percent done, bytes, rate, time left) and cleared before
 * the summary is printed. Elsewhere
 * (a pipe, a file, CI logs): a plain line now and then, so long runs still show life.
 */
import type { OutputStream } from './cli-io';
import { formatBytes, formatDuration } from './format';

/** Redraws per second on a terminal at most: smooth enough, and cheap on big mailboxes. */
const TTY_REDRAW_INTERVAL_MS = 100;
/** A plain progress line at most this often when not on a terminal. */
const PLAIN_LINE_INTERVAL_MS = 5_000;
/** Rates over less time than this are noise. */
const MIN_RATE_WINDOW_MS = 500;
const CLEAR_LINE = '\r\u001b[2K';
const DEFAULT_COLUMNS = 80;
/** Narrower than this, the line is cut anyway rather than made unreadable. */
const MIN_COLUMNS = 20;

export interface ProgressEvent {
  readonly size: number;
  /** New messages of the current session (from runMailbox's onStored). */
  readonly newInSession: number;
}

export interface Progress {
  start(mailboxId: string, activity: string): void;
  stored(event: ProgressEvent): void;
  /** Ends the mailbox's display (a terminal line is cleared). */
  end(): void;
}

/** A display on `out`, or one that shows nothing. */
export function createProgress(out: OutputStream | undefined, now: () => number = Date.now): Progress {
  return out ? new ProgressDisplay(out, now) : { start: () => {}, stored: () => {}, end: () => {} };
}

class ProgressDisplay implements Progress {
  private mailbox = '';
  private activity = '';
  private startedAt = 0;
  private lastShownAt = 0;
  private fetched = 0;
  private bytes = 0;
  private newCount = 0;
  private drawn = false;

  constructor(
    private readonly out: OutputStream,
    private readonly now: () => number,
  ) {}

  start(mailboxId: string, activity: string): void {
    this.mailbox = mailboxId;
    this.activity = activity;
    this.startedAt = this.now();
    this.lastShownAt = this.startedAt;
    this.fetched = 0;
    this.bytes = 0;
    this.newCount = 0;
    if (this.out.isTTY) this.draw(`${this.mailbox}: ${this.activity}...`);
  }

  stored(event: ProgressEvent): void {
    this.fetched++;
    this.bytes += event.size;
    this.newCount = Math.max(this.newCount, event.newInSession, this.fetched);
    const t = this.now();
    const interval = this.out.isTTY ? TTY_REDRAW_INTERVAL_MS : PLAIN_LINE_INTERVAL_MS;
    // On a terminal the last message is always drawn; plain lines stay rare.
    if (t - this.lastShownAt < interval && !(this.out.isTTY && this.fetched === this.newCount)) return;
    this.lastShownAt = t;
    const line = this.line(t);
    if (this.out.isTTY) this.draw(line);
    else this.out.write(`${line}\n`);
  }

  end(): void {
    if (this.drawn) this.out.write(CLEAR_LINE);
    this.drawn = false;
  }

  private line(t: number): string {
    const elapsed = t - this.startedAt;
    const measured = elapsed >= MIN_RATE_WINDOW_MS;
    const rate = measured ? `, ${formatBytes(Math.round((this.bytes * 1000) / elapsed))}/s` : '';
    const percent = this.newCount > 0 ? ` (${Math.floor((this.fetched * 100) / this.newCount)} %)` : '';
    // Time left at the message rate so far: the new count is known (the listing), sizes vary.
    const left = this.newCount - this.fetched;
    const eta = measured && left > 0 ? `, about ${formatDuration(Math.round((left * elapsed) / this.fetched))} left` : '';
    return `${this.mailbox}: fetched ${this.fetched} of ${this.newCount} new${percent}, ${formatBytes(this.bytes)}${rate}${eta}`;
  }

  /** Draws `line` over the previous one; the last column stays free (writing into it makes some terminals wrap). */
  private draw(line: string): void {
    // A terminal of unknown size (some report 0 columns) is taken to be 80 wide.
    const columns = this.out.columns !== undefined && this.out.columns > 0 ? this.out.columns : DEFAULT_COLUMNS;
    const width = Math.max(MIN_COLUMNS, columns - 1);
    this.out.write(`${CLEAR_LINE}${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
    this.drawn = true;
  }
}
