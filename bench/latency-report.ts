/**
 * The worker under the AWS latency model, per message: requests to S3 and DynamoDB (by
 * operation), the capacity units DynamoDB would bill, and how much service latency the
 * run waited through against its own wall time (above 1: requests overlapped). Figures
 * are medians over the runs; the model counts them on its side (bench/latency-model/).
 */
import { median } from './common';
import { totalOf, type LatencyTallies, type TallySnapshot } from './latency-model/latency-tally';
import type { CorpusResult } from './throughput.bench';

export const LATENCY_HEADERS = ['corpus', 'S3 requests/msg', 'DynamoDB requests/msg', 'write units/msg', 'read units/msg', 'in-process/msg', 'service wait/msg', 'wait ÷ in-process'];

/** Per-operation calls divided by `count`, median over runs, as "Op 1.00, Op 0.01". */
function perOperation(runs: readonly TallySnapshot[], count: number): string {
  const ops = [...new Set(runs.flatMap((r) => Object.keys(r)))].sort();
  return ops
    .map((op) => [op, median(runs.map((r) => (r[op]?.calls ?? 0) / count))] as const)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${op} ${n >= 0.1 ? n.toFixed(2) : n.toPrecision(2)}`)
    .join(', ');
}

export interface LatencyFigures {
  readonly s3PerMessage: number;
  readonly dynamoPerMessage: number;
  readonly writeUnitsPerMessage: number;
  readonly readUnitsPerMessage: number;
  /** Service latency waited through per message (S3 and DynamoDB delays), ms. */
  readonly waitPerMessageMs: number;
  /** In-process time per message, ms. */
  readonly innerPerMessageMs: number;
}

export function latencyFigures(c: CorpusResult): LatencyFigures | undefined {
  const t = c.tools.find((x) => x.id === 'worker-latency');
  if (t === undefined || t.latency.length === 0) return undefined;
  const n = c.corpus.count;
  const per = (f: (r: LatencyTallies) => number): number => median(t.latency.map(f)) / n;
  return {
    s3PerMessage: per((r) => totalOf(r.s3).calls),
    dynamoPerMessage: per((r) => totalOf(r.dynamodb).calls),
    writeUnitsPerMessage: per((r) => totalOf(r.dynamodb).writeUnits),
    readUnitsPerMessage: per((r) => totalOf(r.dynamodb).readUnits),
    waitPerMessageMs: per((r) => totalOf(r.s3).delayedMs + totalOf(r.dynamodb).delayedMs),
    innerPerMessageMs: median(t.innerMs) / n,
  };
}

export function latencyRows(corpora: readonly CorpusResult[]): string[][] {
  const rows: string[][] = [];
  for (const c of corpora) {
    const f = latencyFigures(c);
    const runs = c.tools.find((x) => x.id === 'worker-latency')?.latency ?? [];
    if (f === undefined) continue;
    const n = c.corpus.count;
    rows.push([
      `${n.toLocaleString('en-US')} × ${c.corpus.octets >= 1e6 ? `${c.corpus.octets / 1e6} MB` : `${c.corpus.octets / 1e3} KB`}`,
      `${f.s3PerMessage.toFixed(2)} (${perOperation(runs.map((r) => r.s3), n)})`,
      `${f.dynamoPerMessage.toFixed(2)} (${perOperation(runs.map((r) => r.dynamodb), n)})`,
      f.writeUnitsPerMessage.toFixed(2),
      f.readUnitsPerMessage.toFixed(3),
      `${f.innerPerMessageMs.toFixed(2)} ms`,
      `${f.waitPerMessageMs.toFixed(1)} ms`,
      `${(f.waitPerMessageMs / f.innerPerMessageMs).toFixed(1)}x`,
    ]);
  }
  return rows;
}
