/**
 * The performance targets (issue 11), each measured in this run against its target, with
 * the figure of the previous run beside it (the newest bench/results/baseline-*.json, a
 * hand-copied record of the figures published before). A target whose inputs were not
 * measured in this run (a tool not installed, a step that failed) says so; it never
 * fails the bench.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fmtMs, fmtRatio, median } from './common';
import type { BenchReport } from './report';
import type { CorpusResult, ToolId } from './throughput.bench';

const RESULTS_DIR = resolve(import.meta.dirname, 'results');

/** The previous run's headline figures; null where that run did not measure one. */
export interface BaselineFigures {
  readonly workerCpuPerSmallMessageMs: number | null;
  readonly workerLatencyVsMpop: number | null;
  readonly workerLocalVsMpop: number | null;
  readonly engineVsMpop: number | null;
  readonly listingCpuMs: number | null;
  readonly listingPeakRssMb: number | null;
  readonly sinkRss200MbAboveBaselineMiB: number | null;
  readonly bundleBytes: number | null;
  readonly coldModuleLoadMs: number | null;
}

export interface Baseline {
  /** The date the figures were measured, shown as "before (<label>)". */
  readonly label: string;
  readonly note: string;
  readonly figures: BaselineFigures;
}

export type Verdict = 'met' | 'not met' | 'not measured';

export interface TargetRow {
  readonly name: string;
  /** The workload the figure was measured on in this run. */
  readonly measuredOn: string;
  readonly before: string;
  readonly now: string;
  readonly target: string;
  readonly verdict: Verdict;
  /** The least this machine allows, measured in this run, and from what; '' when none applies. */
  readonly bound: string;
}

/** The newest bench/results/baseline-*.json, or undefined when there is none. */
export async function loadBaseline(dir = RESULTS_DIR): Promise<Baseline | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => /^baseline-.*\.json$/.test(n)).sort();
  const newest = names[names.length - 1];
  if (newest === undefined) return undefined;
  return JSON.parse(await readFile(join(dir, newest), 'utf8')) as Baseline;
}

interface TargetSpec {
  readonly name: string;
  readonly measuredOn: string;
  /** This run's figure; NaN or undefined when not measured. */
  readonly now: number | undefined;
  readonly before: number | null | undefined;
  /** The figure must be at most this. */
  readonly max: number;
  readonly format: (x: number) => string;
  /** The least this run shows the figure can be here, and what it is (see TargetRow.bound). */
  readonly bound?: { readonly value: number; readonly what: string } | undefined;
}

function row(s: TargetSpec): TargetRow {
  const measured = s.now !== undefined && Number.isFinite(s.now);
  const before = s.before === null || s.before === undefined ? 'not measured' : s.format(s.before);
  return {
    name: s.name,
    measuredOn: measured ? s.measuredOn : '',
    before,
    now: measured ? s.format(s.now!) : 'not measured',
    target: `<= ${s.format(s.max)}`,
    verdict: measured ? (s.now! <= s.max ? 'met' : 'not met') : 'not measured',
    bound: s.bound && Number.isFinite(s.bound.value) ? `${s.format(s.bound.value)}: ${s.bound.what}` : '',
  };
}

function sizeText(octets: number): string {
  return octets >= 1e6 ? `${octets / 1e6} MB` : `${octets / 1e3} KB`;
}

/** The rows of the targets table, from this run's report and the previous run's figures. */
export function targetRows(r: BenchReport, baseline: Baseline | undefined): TargetRow[] {
  const b: Partial<BaselineFigures> = baseline?.figures ?? {};
  const small = [...r.throughput].sort((x, y) => x.corpus.octets - y.corpus.octets)[0];
  const wall = (c: CorpusResult | undefined, id: ToolId): number => median(c?.tools.find((t) => t.id === id)?.ms ?? []);
  const cpu = (c: CorpusResult | undefined, id: ToolId): number => median(c?.tools.find((t) => t.id === id)?.cpuMs ?? []);
  const corpus = small ? `${small.corpus.count.toLocaleString('en-US')} × ${sizeText(small.corpus.octets)}` : '';
  const vsMpop = (id: ToolId): number => wall(small, id) / wall(small, 'mpop');
  const rssBase = r.rss.find((x) => x.mode === 'baseline');
  const sink = [...r.rss.filter((x) => x.mode === 's3')].sort((x, y) => y.octets - x.octets)[0];
  const mib = (kb: number): number => kb / 1024;
  const bounds = targetBounds(r, small);
  return [
    {
      name: 'worker process CPU per small message (s3rver + dynalite)',
      measuredOn: corpus,
      now: small ? cpu(small, 'worker-dynalite') / small.corpus.count : undefined,
      before: b.workerCpuPerSmallMessageMs,
      max: 1.0,
      format: (x: number) => `${x.toFixed(2)} ms`,
      bound: bounds.workerCpu,
    },
    { name: 'worker wall time, AWS latency model, vs mpop (Maildir)', measuredOn: corpus, now: vsMpop('worker-latency'), before: b.workerLatencyVsMpop, max: 2, format: fmtRatio, bound: bounds.workerLatency },
    { name: 'worker wall time, local servers (s3rver + dynalite), vs mpop', measuredOn: corpus, now: vsMpop('worker-dynalite'), before: b.workerLocalVsMpop, max: 5, format: fmtRatio, bound: bounds.workerLocal },
    { name: 'engine alone, wall time vs mpop', measuredOn: corpus, now: vsMpop('engine'), before: b.engineVsMpop, max: 1.5, format: fmtRatio, bound: bounds.engine },
    {
      name: 'UIDL + LIST: CPU',
      measuredOn: r.listing ? `${r.listing.entries.toLocaleString('en-US')} entries` : '',
      now: r.listing?.cpuMs,
      before: b.listingCpuMs,
      max: 1500,
      format: fmtMs,
    },
    {
      name: 'UIDL + LIST: peak RSS',
      measuredOn: r.listing ? `${r.listing.entries.toLocaleString('en-US')} entries` : '',
      now: r.listing?.peakRssMb,
      before: b.listingPeakRssMb,
      max: 200,
      format: (x: number) => `${x.toFixed(0)} MB`,
    },
    {
      name: 'one message through the S3 sink: peak RSS above baseline',
      measuredOn: sink ? `${sizeText(sink.octets)} message` : '',
      now: sink && rssBase ? mib(sink.peakKb - rssBase.peakKb) : undefined,
      before: b.sinkRss200MbAboveBaselineMiB,
      max: 64,
      format: (x: number) => `+${x.toFixed(1)} MiB`,
    },
    // What a cold start loads (the entry and its static imports); the lazy chunks load in the runs that need them.
    {
      name: 'Lambda bundle size',
      measuredOn: 'fetch-mailbox handler, loaded at a cold start',
      now: r.bundle ? r.bundle.bytes / 1024 : undefined,
      before: b.bundleBytes == null ? b.bundleBytes : b.bundleBytes / 1024,
      max: 400,
      format: (x: number) => `${x.toFixed(0)} KiB`,
    },
    {
      name: 'Lambda cold module load',
      measuredOn: 'fetch-mailbox handler, its entry',
      now: r.bundle?.loadMs,
      before: b.coldModuleLoadMs,
      max: 80,
      format: fmtMs,
    },
  ].map(row);
}

type Bound = TargetSpec['bound'];

/**
 * What bounds the fetch targets on this machine, each from figures of this same run:
 * - CPU per message: the engine alone (the POP3 side, start-up included) plus the floor of
 *   what each message adds, one PutObject through the direct path and one batched record;
 * - wall time vs mpop under the latency model: the engine alone, which stores nothing, or,
 *   when more, the CPU floor per message times the messages (a Node process runs its
 *   JavaScript on one thread, so its wall time is at least that);
 * - wall time vs mpop on the local servers: the engine alone, or, when more, the CPU of the
 *   worker and of the emulators (all on this machine's cores at once) spread over every core;
 * - the engine vs mpop: the reference client, the least a Node process can do (no per-message work).
 */
function targetBounds(r: BenchReport, small: CorpusResult | undefined): { workerCpu: Bound; workerLatency: Bound; workerLocal: Bound; engine: Bound } {
  if (small === undefined) return { workerCpu: undefined, workerLatency: undefined, workerLocal: undefined, engine: undefined };
  const tool = (id: ToolId) => small.tools.find((t) => t.id === id);
  const wall = (id: ToolId): number => median(tool(id)?.ms ?? []);
  const cpu = (id: ToolId): number => median(tool(id)?.cpuMs ?? []);
  const mpop = wall('mpop');
  const engineRatio = wall('engine') / mpop;
  const f = r.sdkFloor;
  const perMessage = cpu('engine') / small.corpus.count;
  const emulators = median(tool('worker-dynalite')?.emulatorCpuMs ?? []);
  const cores = r.machine.cpus;
  const spread = (cpu('worker-dynalite') + emulators) / cores / mpop;
  const recordCpuMs = f ? (f.directBatchedRecordCpuMs ?? f.batchedRecordCpuMs) : Number.NaN;
  const floorPerMessage = f ? perMessage + f.directPutObjectCpuMs + recordCpuMs : Number.NaN;
  // A Node process runs its JavaScript on one thread: its wall time is at least that CPU.
  const oneThread = (floorPerMessage * small.corpus.count) / mpop;
  return {
    workerCpu: f && {
      value: floorPerMessage,
      what:
        `the engine alone ${perMessage.toFixed(2)} ms + one PutObject ${f.directPutObjectCpuMs.toFixed(2)} ms + one batched record ${recordCpuMs.toFixed(3)} ms` +
        (r.warm ? `; the same worker's next run in its process: ${(median(r.warm.warmCpuMs) / r.warm.corpus.count).toFixed(2)} ms${steadyText(r.warm)} (start-up and compilation are paid once per process)` : ''),
    },
    workerLatency:
      Number.isFinite(oneThread) && oneThread > engineRatio
        ? { value: oneThread, what: `that CPU floor (${floorPerMessage.toFixed(2)} ms a message) on the one thread a Node process runs on` }
        : { value: engineRatio, what: 'the engine alone, storing nothing' },
    workerLocal: Number.isFinite(spread) && spread > engineRatio
      ? { value: spread, what: `the worker's and the emulators' CPU (${fmtMs(cpu('worker-dynalite'))} + ${fmtMs(emulators)}) over ${cores} cores` }
      : { value: engineRatio, what: 'the engine alone, storing nothing' },
    engine: { value: wall('reference') / mpop, what: 'the reference client, the least a Node process does' },
  };
}

/** The third run in the process, when the run measured it. */
function steadyText(w: NonNullable<BenchReport['warm']>): string {
  return w.steadyCpuMs && w.steadyCpuMs.length > 0 ? `, the third ${(median(w.steadyCpuMs) / w.corpus.count).toFixed(2)} ms` : '';
}

/** Headers of the targets table; `label` names the previous run. */
export function targetHeaders(label: string | undefined): string[] {
  return ['target', 'measured on', `before (${label ?? 'no baseline'})`, 'now', 'target', 'verdict', 'bound on this machine'];
}

export function targetCells(rows: readonly TargetRow[]): string[][] {
  return rows.map((t) => [t.name, t.measuredOn, t.before, t.now, t.target, t.verdict, t.bound]);
}
