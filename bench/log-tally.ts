/**
 * What the worker and the dispatcher write to stdout during a sweep (in Lambda: what
 * CloudWatch Logs ingests and bills by the byte), sorted into summary lines, EMF documents
 * and other lines, and the runs the summary lines report.
 */
import { SUMMARY_LINE } from '../lambda/observability/summary-line';

export interface LogBytes {
  lines: number;
  bytes: number;
}

export interface RunSeen {
  readonly mailbox: string;
  readonly status: string;
  readonly fetched: number;
}

export interface LogTallySnapshot {
  readonly summary: LogBytes;
  readonly emf: LogBytes;
  readonly other: LogBytes;
  readonly dispatcher: LogBytes;
  /** Message texts of the "other" worker lines, with their counts. */
  readonly otherMessages: Readonly<Record<string, number>>;
}

/** CloudWatch Logs counts each event's bytes plus 26 bytes of overhead; the newline is not sent. */
const lineBytes = (line: string): number => Buffer.byteLength(line, 'utf8');

export class LogTally {
  private summary: LogBytes = { lines: 0, bytes: 0 };
  private emf: LogBytes = { lines: 0, bytes: 0 };
  private other: LogBytes = { lines: 0, bytes: 0 };
  private dispatcher: LogBytes = { lines: 0, bytes: 0 };
  private otherMessages = new Map<string, number>();
  /** Runs reported by summary lines since the last reset, in order. */
  runs: RunSeen[] = [];
  /** Called for each run reported (for the sweep's progress). */
  onRun: (run: RunSeen) => void = () => {};

  readonly worker = (line: string): void => {
    const parsed = JSON.parse(line) as Record<string, unknown>;
    if (parsed._aws !== undefined) return add(this.emf, line);
    if (parsed.message === SUMMARY_LINE.MESSAGE) {
      add(this.summary, line);
      const summary = parsed[SUMMARY_LINE.SUMMARY] as { status?: string; fetched?: number } | undefined;
      const run = { mailbox: String(parsed[SUMMARY_LINE.MAILBOX]), status: summary?.status ?? 'ok', fetched: summary?.fetched ?? 0 };
      this.runs.push(run);
      this.onRun(run);
      return;
    }
    add(this.other, line);
    const message = String(parsed.message);
    this.otherMessages.set(message, (this.otherMessages.get(message) ?? 0) + 1);
  };

  readonly dispatcherLine = (line: string): void => add(this.dispatcher, line);

  snapshot(): LogTallySnapshot {
    return {
      summary: { ...this.summary },
      emf: { ...this.emf },
      other: { ...this.other },
      dispatcher: { ...this.dispatcher },
      otherMessages: Object.fromEntries(this.otherMessages),
    };
  }

  reset(): void {
    this.summary = { lines: 0, bytes: 0 };
    this.emf = { lines: 0, bytes: 0 };
    this.other = { lines: 0, bytes: 0 };
    this.dispatcher = { lines: 0, bytes: 0 };
    this.otherMessages = new Map();
    this.runs = [];
  }
}

function add(into: LogBytes, line: string): void {
  into.lines++;
  into.bytes += lineBytes(line);
}
