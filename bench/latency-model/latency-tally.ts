/**
 * What the latency model's endpoints count, per operation: requests, the delay each one
 * was actually held for, bytes received (S3) and capacity units (DynamoDB, computed from
 * item sizes whether or not the client asked for ConsumedCapacity).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface OperationTally {
  calls: number;
  /** Sum of the delays applied, ms (measured around the wait, never less than configured). */
  delayedMs: number;
  /** Shortest delay applied to one call, ms (Infinity before the first call). */
  minDelayMs: number;
  /** Request body bytes received (S3: object or part bytes, decoded length). */
  bytesIn: number;
  readUnits: number;
  writeUnits: number;
}

export type TallySnapshot = Record<string, OperationTally>;

export interface LatencyTallies {
  readonly s3: TallySnapshot;
  readonly dynamodb: TallySnapshot;
}

/** Totals over the operations of one service. */
export function totalOf(snapshot: TallySnapshot): Omit<OperationTally, 'minDelayMs'> {
  const total = { calls: 0, delayedMs: 0, bytesIn: 0, readUnits: 0, writeUnits: 0 };
  for (const t of Object.values(snapshot)) {
    total.calls += t.calls;
    total.delayedMs += t.delayedMs;
    total.bytesIn += t.bytesIn;
    total.readUnits += t.readUnits;
    total.writeUnits += t.writeUnits;
  }
  return total;
}

export class TallyBook {
  private tallies = new Map<string, OperationTally>();

  of(operation: string): OperationTally {
    let t = this.tallies.get(operation);
    if (t === undefined) {
      t = { calls: 0, delayedMs: 0, minDelayMs: Number.POSITIVE_INFINITY, bytesIn: 0, readUnits: 0, writeUnits: 0 };
      this.tallies.set(operation, t);
    }
    return t;
  }

  /** Holds the answer of one `operation` call for at least `ms`, and records how long it was held. */
  async delay(operation: string, ms: number): Promise<void> {
    const t = this.of(operation);
    const held = ms > 0 ? await waitAtLeast(ms) : 0;
    t.delayedMs += held;
    t.minDelayMs = Math.min(t.minDelayMs, held);
  }

  snapshot(): TallySnapshot {
    const out: TallySnapshot = {};
    for (const [op, t] of [...this.tallies].sort(([a], [b]) => a.localeCompare(b))) out[op] = { ...t };
    return out;
  }

  reset(): void {
    this.tallies = new Map();
  }
}

/**
 * Sleeps at least `ms` by performance.now(): a timer may fire up to a millisecond early
 * (libuv's clock is cached per loop turn), so any shortfall is slept again. Returns the
 * time actually waited.
 */
export async function waitAtLeast(ms: number): Promise<number> {
  const started = performance.now();
  let waited = 0;
  while (waited < ms) {
    await sleep(Math.max(1, Math.ceil(ms - waited)));
    waited = performance.now() - started;
  }
  return waited;
}
