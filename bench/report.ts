/** The results as console tables, docs/benchmarks.md and docs/benchmarks.svg (hand-written SVG). */
import { bundleSizeText, type BundleResult } from './bundle.bench';
import type { CliStartResult } from './cli-start.bench';
import { fmtMiB, fmtMs, fmtRatio, max, median, min } from './common';
import type { DecoderBenchResult } from './decoder.bench';
import { latencyRows, LATENCY_HEADERS } from './latency-report';
import type { SdkFloorFigures } from './sdk-floor.bench';
import type { ListingFigures } from './listing-run';
import type { MachineInfo, Versions } from './machine';
import type { ReadUnitsRow } from './read-units.bench';
import type { RssRow } from './rss.bench';
import { targetCells, targetHeaders, type TargetRow } from './targets';
import { TOOLS, type WarmRunResult, type CorpusResult, type ToolId, type ToolInfo, type ToolSamples } from './throughput.bench';

export interface BenchReport {
  readonly date: string;
  readonly quick: boolean;
  durationMs: number;
  readonly machine: MachineInfo;
  readonly versions: Versions;
  readonly settings: { repetitions: number; slowRepetitions: number; slowAfterMs: number; ddbLocalRepetitions: number; tmpRoot: string };
  decoder?: DecoderBenchResult;
  throughput: CorpusResult[];
  /** The worker's first run in a process against its next one in the same process. */
  warm?: WarmRunResult;
  rss: RssRow[];
  bundle?: BundleResult;
  cliStart?: CliStartResult;
  readUnits: ReadUnitsRow[];
  listing?: ListingFigures & { readonly peakRssMbRuns?: readonly number[] };
  /** The AWS SDK's own CPU per request: the floor under the worker's CPU per message. */
  sdkFloor?: SdkFloorFigures;
  /** The targets table (targets.ts), filled once every figure is in. */
  targets: TargetRow[];
  /** Where the "before" column of the targets comes from. */
  baseline?: { readonly label: string; readonly note: string };
  /** Parts that did not run, and why. */
  readonly skipped: string[];
  /** Performance findings to show with the figures. */
  readonly findings: string[];
}

type Kind = 'ceiling' | 'ours' | 'classic';

function kindOf(id: ToolId): Kind {
  if (id === 'reference') return 'ceiling';
  if (id === 'mpop' || id === 'fetchmail' || id === 'getmail6') return 'classic';
  return 'ours';
}

const COLORS: Record<Kind, string> = { ceiling: '#8c8c8c', ours: '#1f6fb4', classic: '#e07b1a' };

function info(id: ToolId): ToolInfo {
  return TOOLS.find((t) => t.id === id)!;
}

// ---------------------------------------------------------------------------------------
// Tables

function mdTable(headers: string[], rows: string[][], align?: ('l' | 'r')[]): string {
  const sep = headers.map((_, i) => ((align?.[i] ?? 'l') === 'r' ? '---:' : '---'));
  const line = (cells: string[]): string => `| ${cells.map((c) => c.replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(headers), line(sep), ...rows.map(line)].join('\n');
}

function textTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

interface ThroughputRow {
  readonly id: ToolId;
  readonly label: string;
  readonly median: number;
  readonly cells: string[];
}

function throughputRows(c: CorpusResult): ThroughputRow[] {
  const med = (id: ToolId): number => median(c.tools.find((t) => t.id === id)?.ms ?? []);
  const mpop = med('mpop');
  const ceiling = med('reference');
  return c.tools.map((t: ToolSamples) => {
    const m = median(t.ms);
    const cpu = median(t.cpuMs);
    const inner = median(t.innerMs);
    const mbps = c.octets / 1e6 / (m / 1000);
    return {
      id: t.id,
      label: info(t.id).label,
      median: m,
      cells: [
        info(t.id).label,
        fmtMs(m),
        t.ms.length > 1 ? `${fmtMs(min(t.ms))} – ${fmtMs(max(t.ms))}` : 'one run',
        String(t.ms.length),
        Number.isFinite(cpu) ? fmtMs(cpu) : 'n/a',
        Number.isFinite(cpu) ? `${(cpu / c.corpus.count).toFixed(2)} ms` : 'n/a',
        Number.isFinite(inner) ? fmtMs(inner) : '',
        fmtRatio(m / mpop),
        fmtRatio(m / ceiling),
        (c.corpus.count / (m / 1000)).toFixed(0),
        mbps.toFixed(0),
      ],
    };
  });
}

const THROUGHPUT_HEADERS = ['tool', 'median wall', 'min – max', 'runs', 'CPU (median)', 'CPU/msg', 'in-process', 'vs mpop', 'vs ceiling', 'msg/s', 'MB/s'];

function corpusList(r: BenchReport): string {
  return r.throughput.map((c) => `one mailbox of ${c.corpus.count.toLocaleString('en-US')} messages of ~${sizeText(c.corpus.octets)}`).join(' and ');
}

function sizeText(octets: number): string {
  return octets >= 1e6 ? `${octets / 1e6} MB` : `${octets / 1e3} KB`;
}

function corpusTitle(c: CorpusResult): string {
  return `${c.corpus.count.toLocaleString('en-US')} messages of ~${sizeText(c.corpus.octets)} (${(c.octets / 1e6).toFixed(1)} MB on disk)`;
}

function rssCells(rows: RssRow[]): { headers: string[]; rows: string[][] } {
  const baseline = rows.find((r) => r.mode === 'baseline');
  const sizes = [...new Set(rows.filter((r) => r.mode !== 'baseline').map((r) => r.octets))];
  const cell = (mode: 'discard' | 's3', octets: number): string[] => {
    const r = rows.find((x) => x.mode === mode && x.octets === octets);
    if (!r) return ['n/a', 'n/a'];
    return [fmtMiB(r.peakKb * 1024), `+${fmtMiB((r.peakKb - (baseline?.peakKb ?? 0)) * 1024)}`];
  };
  return {
    headers: ['message', 'engine -> discard: peak RSS', 'above baseline', 'engine -> S3 sink: peak RSS', 'above baseline'],
    rows: [
      ['none (baseline: start-up + modules)', baseline ? fmtMiB(baseline.peakKb * 1024) : 'n/a', '', '', ''],
      ...sizes.map((s) => [`${s / 1e6} MB`, ...cell('discard', s), ...cell('s3', s)]),
    ],
  };
}

function readUnitCells(rows: ReadUnitsRow[]): { headers: string[]; rows: string[][] } {
  return {
    headers: ['backend', 'recorded messages', 'no new mail: read units', 'time', 'full diff (no summary): read units', 'time'],
    rows: rows.map((r) => [
      r.backend,
      r.records.toLocaleString('en-US'),
      String(r.fastPath.readUnits),
      fmtMs(r.fastPath.ms),
      String(r.fullDiff.readUnits),
      fmtMs(r.fullDiff.ms),
    ]),
  };
}

function listingText(l: ListingFigures & { readonly peakRssMbRuns?: readonly number[] }): string {
  const runs = l.peakRssMbRuns ? `; medians of ${l.peakRssMbRuns.length} runs, bundled as the Lambda code is, peaks ${l.peakRssMbRuns.map((mb) => mb.toFixed(0)).join(', ')} MB` : '';
  return (
    `${l.entries.toLocaleString('en-US')}-entry UIDL + LIST through the real client: ${fmtMs(l.cpuMs)} CPU, ${fmtMs(l.wallMs)} wall, ` +
    `peak RSS ${l.peakRssMb.toFixed(0)} MB (${l.baselineRssMb.toFixed(0)} MB before the session${runs})`
  );
}

function warmText(w: WarmRunResult): string {
  const n = w.corpus.count;
  const cold = median(w.coldCpuMs);
  const warm = median(w.warmCpuMs);
  const steady = w.steadyCpuMs && w.steadyCpuMs.length > 0 ? median(w.steadyCpuMs) : undefined;
  const runs = steady === undefined ? 'twice' : 'three times';
  return (
    `Worker (s3rver + dynalite), ${n.toLocaleString('en-US')} small messages, ${runs} in one process (${w.warmCpuMs.length} processes): ` +
    `the first run ${fmtMs(cold)} CPU (${(cold / n).toFixed(2)} ms a message, start-up included), the next ${fmtMs(warm)} (${(warm / n).toFixed(2)} ms a message)` +
    (steady === undefined
      ? `. The ${fmtMs(cold - warm)} between them is paid once per process: loading the modules, the TLS context, compiling the hot code. `
      : `, the third ${fmtMs(steady)} (${(steady / n).toFixed(2)} ms a message). ` +
        `What the first run costs over the third is paid once per process: loading the modules, the TLS context, and V8 compiling the hot code, ` +
        'which goes on into the second run (a function called once per message reaches its thresholds there). ') +
    'Lambda keeps an instance for the runs that follow, so a fleet pays it once per instance, not once per run.'
  );
}

// ---------------------------------------------------------------------------------------
// Console

export function consoleReport(r: BenchReport): string {
  const out: string[] = [];
  out.push(`mailfetch benchmarks, ${r.date}${r.quick ? ' (BENCH_QUICK: smoke run, figures mean nothing)' : ''}`);
  out.push(`${r.machine.cpus} CPUs (${r.machine.cpuModel}), ${r.machine.memoryGiB.toFixed(1)} GiB, load ${r.machine.loadStart.toFixed(1)} -> ${r.machine.loadEnd.toFixed(1)}; node ${r.versions.node}`);
  if (r.decoder) {
    out.push(`\n[decoder] ${r.decoder.decoderMBps.toFixed(0)} MB/s (${r.decoder.ratio.toFixed(2)}x a plain copy)`);
  }
  for (const c of r.throughput) {
    out.push(`\n[fetch] ${corpusTitle(c)}`);
    out.push(textTable(THROUGHPUT_HEADERS, throughputRows(c).map((x) => x.cells)));
  }
  const latency = latencyRows(r.throughput);
  if (latency.length > 0) {
    out.push('\n[worker, AWS latency model] per message');
    out.push(textTable(LATENCY_HEADERS, latency));
  }
  if (r.warm) out.push(`\n[worker] ${warmText(r.warm)}`);
  if (r.rss.length > 0) {
    const t = rssCells(r.rss);
    out.push('\n[peak RSS] one message');
    out.push(textTable(t.headers, t.rows));
  }
  if (r.bundle) {
    const b = r.bundle;
    out.push(
      `\n[bundle] ${bundleSizeText(b)}; cold module load ${fmtMs(b.loadMs)} (quartiles ${fmtMs(b.loadQuartilesMs[0])} to ${fmtMs(b.loadQuartilesMs[1])}; node -e 0: ${fmtMs(b.nodeMs)}, node + import: ${fmtMs(b.importMs)}; CPU +${fmtMs(b.loadCpuMs)})`,
    );
  }
  if (r.cliStart) {
    const c = r.cliStart;
    out.push(`\n[command start] mailfetch --help compiled ${fmtMs(c.compiledMs)} (${fmtRatio(c.compiledMs / c.nodeMs)} node -e 0, ${fmtMs(c.nodeMs)}); from the sources through tsx ${fmtMs(c.sourcesMs)} (${fmtRatio(c.sourcesMs / c.nodeMs)})`);
  }
  if (r.readUnits.length > 0) {
    const t = readUnitCells(r.readUnits);
    out.push('\n[DynamoDB read units] run with no new mail');
    out.push(textTable(t.headers, t.rows));
  }
  if (r.listing) out.push(`\n[listing] ${listingText(r.listing)}`);
  for (const s of r.skipped) out.push(`\nskipped: ${s}`);
  if (r.targets.length > 0) {
    out.push(`\n[targets]${r.quick ? ' BENCH_QUICK: smaller workloads, the verdicts mean nothing' : ''}`);
    out.push(textTable(targetHeaders(r.baseline?.label), targetCells(r.targets)));
  }
  out.push(`\ntotal bench time ${fmtMs(r.durationMs)}`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------
// Markdown

/** The fleet simulation has its own command and page; the benchmarks page points to it. */
const FLEET_SIMULATION_NOTE =
  'A fleet of 10,000 mailboxes (the real dispatcher and worker against local endpoints: requests, capacity units, log bytes and function time per mailbox check) ' +
  'is measured by `npm run sim:fleet`; its figures and the monthly cost model built on them are in [cost.md](cost.md).';

export function markdownReport(r: BenchReport): string {
  const md: string[] = [];
  const s = r.settings;
  md.push('# Benchmarks');
  md.push('');
  md.push(
    `Generated by \`npm run bench\` (bench/run.ts) on ${r.date}${r.quick ? ' with **BENCH_QUICK=1: a smoke run on a tiny corpus; the figures mean nothing**' : ''}; ` +
      `the whole run took ${fmtMs(r.durationMs)}. Do not edit by hand: run \`scripts/install-bench-tools.sh\` once, then \`npm run bench\`. ` +
      'The bench is not part of `npm test` or CI.',
  );
  md.push('');
  md.push(FLEET_SIMULATION_NOTE);
  md.push('');
  if (r.targets.length > 0) {
    md.push('## Targets');
    md.push('');
    md.push(
      'Each target with this run\'s figure and the previous run\'s. The wall-time targets are ratios of median wall times to mpop\'s (delivering into a Maildir) on the small corpus; ' +
        'CPU per message is the worker process\'s user + system time, start-up included, divided by the messages. ' +
        '"not measured": a tool was not installed or a step did not run in that run (see the end of the page). ' +
        '"bound on this machine": the least the figure can be here, from other figures of this run: for CPU per message, the engine alone plus the floor of one PutObject and one batched record (the SDK floor below); ' +
        'for the worker\'s wall time, the engine alone, which stores nothing, or, if more, under the latency model that CPU floor times the messages (a Node process runs its JavaScript on one thread) ' +
        'and on the local servers the CPU of the worker and of the emulators spread over every core; ' +
        'for the engine, the reference client, the least a Node process can do.' +
        (r.baseline ? ` Before: ${r.baseline.note}` : '') +
        (r.quick ? ' **BENCH_QUICK: smaller workloads; the verdicts mean nothing.**' : ''),
    );
    md.push('');
    md.push(mdTable(targetHeaders(r.baseline?.label), targetCells(r.targets), ['l', 'l', 'r', 'r', 'r', 'l', 'l']));
    md.push('');
  }
  md.push('![Fetch wall time per tool, and peak RSS per message size](benchmarks.svg)');
  md.push('');
  md.push('## Machine and versions');
  md.push('');
  const m = r.machine;
  md.push(
    mdTable(
      ['', ''],
      [
        ['CPUs', `${m.cpus} × ${m.cpuModel}`],
        ['memory', `${m.memoryGiB.toFixed(1)} GiB`],
        ['OS', `${m.os}, Linux ${m.kernel}`],
        ['1-min load average (start -> end)', `${m.loadStart.toFixed(1)} -> ${m.loadEnd.toFixed(1)} (other work shares this machine: compare ratios within one run, not absolute times across runs)`],
        ['NODE_EXTRA_CA_CERTS', m.nodeExtraCaCerts ? `${m.nodeExtraCaCerts} on this machine, removed for every tool (Lambda's Node 20+ runtimes leave it unset)` : 'not set'],
        ...Object.entries(r.versions).map(([k, v]) => [k, v]),
      ],
    ),
  );
  md.push('');

  md.push('## Fetching a mailbox');
  md.push('');
  md.push(
    `One private Dovecot on loopback serves every tool the same corpus: ${corpusList(r)}, ` +
      'stored as Dovecot stores mail (LF on disk; text bodies have lines starting with a dot, large messages a base64 attachment). Every tool fetches every message in keep mode ' +
      '(nothing is deleted), starting from "nothing seen" each run (a fresh UIDL/state file, a fresh Maildir, a fresh bucket and table), over implicit TLS ' +
      '(port 995 style) verified with the same CA; the server offers only TLS 1.3 with TLS_AES_256_GCM_SHA384, so all of them use the same cipher (the TLS column). ' +
      `Mail store, Maildirs and S3 data are on tmpfs (${s.tmpRoot.startsWith('/dev/shm') ? '/dev/shm' : s.tmpRoot}): the bench compares fetchers, not the disk.`,
  );
  md.push('');
  md.push(
    `Every row is one process timed from spawn to exit (ours too: a bundled Node process, so start-up counts for everyone). Runs are interleaved, each repetition starting with the next tool; ` +
      `the median of ${s.repetitions} runs is reported (${s.slowRepetitions} for a tool whose first run took over ${s.slowAfterMs / 1000} s, ${s.ddbLocalRepetitions} for the worker on DynamoDB Local: the time budget). ` +
      '"CPU" is user + system time of the tool and every process it waited for (GNU time), the figure machine noise disturbs least. ' +
      '"in-process" (our processes only) is the median time from before connecting to after QUIT, without Node\'s start-up and module loading. ' +
      '"CPU/msg" is that CPU divided by the messages, start-up included. ' +
      '"vs mpop" and "vs ceiling" are ratios of median wall times (below 1.00x is faster). Two worker rows store into s3rver and a DynamoDB emulator, ' +
      'which run on the same two cores: they show the cost of the whole pipeline, not a like-for-like fetch. The third stores into the AWS latency model ' +
      '(below): in-memory endpoints in another process that answer after the delays of S3 and DynamoDB in a region, so its wall time is what the network waits cost. ' +
      'The ceiling is the least a Node process can do; a C client that starts faster (mpop) can beat it on a short run.',
  );
  md.push('');
  for (const c of r.throughput) {
    md.push(`### ${corpusTitle(c)}`);
    md.push('');
    md.push(mdTable(THROUGHPUT_HEADERS, throughputRows(c).map((x) => x.cells), ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r']));
    md.push('');
  }
  md.push('What each tool does with a message:');
  md.push('');
  const tlsOf = (id: ToolId): string => r.throughput.map((c) => c.tools.find((t) => t.id === id)?.tls).find((x) => x !== undefined) ?? 'n/a';
  md.push(
    mdTable(
      ['tool', 'what it does', 'TLS (as Dovecot logged it)'],
      TOOLS.filter((t) => r.throughput.some((c) => c.tools.some((x) => x.id === t.id))).map((t) => [t.label, t.does, tlsOf(t.id)]),
    ),
  );
  md.push('');
  const workers = r.throughput.flatMap((c) => c.tools.filter((t) => t.readUnits !== undefined).map((t) => `${info(t.id).label}, ${c.corpus.name}: ${t.readUnits} read units, ${t.writeUnits} write units`));
  if (workers.length > 0) {
    md.push(`DynamoDB capacity of one worker run (first fetch of the mailbox): ${workers.join('; ')}.`);
    md.push('');
  }

  const latency = latencyRows(r.throughput);
  if (latency.length > 0) {
    md.push('### The worker under the AWS latency model');
    md.push('');
    md.push(
      'The latency model (bench/latency-model/) runs in its own process, so none of its CPU is in the worker\'s figure. It keeps objects and items in memory, drains bodies without ' +
        'parsing them, and holds each answer for the configured delay (20 ms per S3 PutObject, UploadPart, CreateMultipartUpload and CompleteMultipartUpload; 8 ms per DynamoDB write: ' +
        'PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems; 5 ms per read: GetItem, Query, BatchGetItem). It counts every request and computes capacity units from item ' +
        'sizes as DynamoDB bills them (1 write unit per started KB, the larger of the item before and after, index writes included; 1 read unit per started 4 KB strongly consistent, half ' +
        'eventually consistent). Condition expressions are taken as holding: one worker on a fresh table. "service wait" adds up every delay the run waited for; ' +
        'divided by the in-process time it says how many requests were in flight on average.',
    );
    md.push('');
    md.push(mdTable(LATENCY_HEADERS, latency, ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r']));
    md.push('');
  }
  md.push(
    'Every worker run is checked afterwards: the objects under the mailbox\'s prefix (ListObjectsV2) and its records in state `stored` (Query) must each equal the corpus, or the bench stops.',
  );
  md.push('');

  if (r.warm) {
    md.push('### The worker in a fresh process and in a warm one');
    md.push('');
    md.push(warmText(r.warm));
    md.push('');
  }
  if (r.rss.length > 0) {
    md.push('## Peak RSS for one large message');
    md.push('');
    md.push(
      'One process per cell fetches message 1 of a mailbox holding one message of the given size, through the engine, into a discarding Writable or into the S3 sink ' +
        '(s3rver; up to 16 MiB one PutObject, larger a multipart upload of 8 MiB parts, 2 in flight). Peak RSS is VmHWM from /proc/self/status at exit, median of the runs. ' +
        'The baseline process loads the same modules and fetches nothing.',
    );
    md.push('');
    const t = rssCells(r.rss);
    md.push(mdTable(t.headers, t.rows, ['l', 'r', 'r', 'r', 'r']));
    md.push('');
  }

  if (r.bundle) {
    const b = r.bundle;
    md.push('## Lambda bundle');
    md.push('');
    md.push(
      mdTable(
        ['', ''],
        [
          ['bundle (lambda/handlers/fetch-mailbox.ts)', `${bundleSizeText(b)}; ${b.bytes.toLocaleString('en-US')} bytes at a cold start`],
          ['built by', b.builtBy],
          [
            'cold module load',
            `${fmtMs(b.loadMs)} wall (quartiles of the paired runs ${fmtMs(b.loadQuartilesMs[0])} to ${fmtMs(b.loadQuartilesMs[1])}), ${fmtMs(b.loadCpuMs)} CPU (median of ${b.runs}: a fresh \`node\` importing the entry, ${fmtMs(b.importMs)}, minus \`node -e 0\`, ${fmtMs(b.nodeMs)})`,
          ],
          [
            'the DynamoDB SDK client alone',
            `${(b.dynamoOnlyBytes / 1024).toFixed(0)} KiB, cold module load ${fmtMs(b.dynamoOnlyLoadMs)} (the client and the commands a run sends, built the same way and timed in the same rounds: what a cold start would load if the worker sent its DynamoDB requests through the SDK; it sends them directly, and loads the SDK only for what that path does not take)`,
          ],
        ],
      ),
    );
    md.push('');
  }

  if (r.cliStart) {
    const c = r.cliStart;
    md.push('## Command start');
    md.push('');
    md.push(
      mdTable(
        ['`mailfetch --help`', 'wall (median)', 'vs `node -e 0`'],
        [
          ['`node -e 0`', fmtMs(c.nodeMs), fmtRatio(1)],
          ['compiled (the package: dist/cli/mailfetch.mjs)', fmtMs(c.compiledMs), `${fmtRatio(c.compiledMs / c.nodeMs)}, +${fmtMs(c.compiledMs - c.nodeMs)}`],
          ['TypeScript sources through tsx (the repository)', fmtMs(c.sourcesMs), `${fmtRatio(c.sourcesMs / c.nodeMs)}, +${fmtMs(c.sourcesMs - c.nodeMs)}`],
        ],
      ),
    );
    md.push('');
    md.push(`Median of ${c.runs} interleaved runs each, timed from spawn to exit.`);
    md.push('');
  }

  if (r.readUnits.length > 0) {
    md.push('## DynamoDB read units when there is no new mail');
    md.push('');
    md.push(
      'The mailbox has N recorded messages (seeded with BatchWriteItem, shaped like the worker\'s records) and the POP3 server (the fake one) lists the same N UIDs. ' +
        'A run without a summary does the full diff (reads every record) and writes the summary; the next run finds the summary matching and reads only it. ' +
        'Read units are `summary.readUnits`: the ConsumedCapacity DynamoDB returned (strongly consistent reads, 1 unit per 4 KB). ' +
        'dynalite (in-process) and DynamoDB Local report the same units here; 100k records are seeded only into dynalite (DynamoDB Local needs minutes for them).',
    );
    md.push('');
    const t = readUnitCells(r.readUnits);
    md.push(mdTable(t.headers, t.rows, ['l', 'r', 'r', 'r', 'r', 'r']));
    md.push('');
  }

  if (r.listing) {
    md.push('## A 1,000,000-entry listing');
    md.push('');
    md.push(
      `bench/listing.bench.ts, run as its own process: ${listingText(r.listing)}. The server answers from two prebuilt buffers in a child process; ` +
        'CPU and peak RSS are those of the client process only.',
    );
    md.push('');
  }

  if (r.decoder) {
    const d = r.decoder;
    md.push('## Dot-unstuffing decoder (micro-benchmark)');
    md.push('');
    md.push(
      `bench/decoder.bench.ts: ${d.decoderMBps.toFixed(0)} MB/s, ${d.ratio.toFixed(2)}x the time of a plain Buffer copy of the same chunks (${d.copyMBps.toFixed(0)} MB/s); ` +
        `unstuffing and copying the output ${d.decodeCopyMBps.toFixed(0)} MB/s (${d.ratioWithCopy.toFixed(2)}x).`,
    );
    md.push('');
  }

  if (r.findings.length > 0) {
    md.push('## Findings');
    md.push('');
    for (const f of r.findings) md.push(`- ${f}`);
    md.push('');
  }
  if (r.skipped.length > 0) {
    md.push('## Not measured in this run');
    md.push('');
    for (const x of r.skipped) md.push(`- ${x}`);
    md.push('');
  }
  return md.join('\n');
}

// ---------------------------------------------------------------------------------------
// SVG

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly color: string;
  readonly note: string;
}

const W = 960;
const LABEL_W = 300;
const NOTE_W = 150;
const BAR_H = 18;
const GAP = 6;

/** One horizontal bar chart panel; returns its SVG and height. */
function panel(title: string, subtitle: string, bars: Bar[], unit: (v: number) => string, y0: number): { svg: string; height: number } {
  const plotW = W - LABEL_W - NOTE_W - 20;
  const top = y0 + 44;
  const maxV = Math.max(...bars.map((b) => b.value).filter(Number.isFinite), 1e-9);
  const step = niceStep(maxV / 5);
  const parts: string[] = [];
  parts.push(`<text x="10" y="${y0 + 18}" class="title">${esc(title)}</text>`);
  parts.push(`<text x="10" y="${y0 + 34}" class="sub">${esc(subtitle)}</text>`);
  const plotH = bars.length * (BAR_H + GAP);
  for (let v = 0; v <= maxV * 1.0001; v += step) {
    const x = LABEL_W + (v / maxV) * plotW;
    parts.push(`<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${top + plotH}" class="grid"/>`);
    parts.push(`<text x="${x.toFixed(1)}" y="${top + plotH + 14}" class="tick" text-anchor="middle">${esc(unit(v))}</text>`);
  }
  bars.forEach((b, i) => {
    const y = top + i * (BAR_H + GAP);
    const w = Number.isFinite(b.value) ? Math.max(1, (b.value / maxV) * plotW) : 0;
    parts.push(`<text x="${LABEL_W - 8}" y="${y + BAR_H - 5}" class="label" text-anchor="end">${esc(b.label)}</text>`);
    parts.push(`<rect x="${LABEL_W}" y="${y}" width="${w.toFixed(1)}" height="${BAR_H}" fill="${b.color}" rx="2"><title>${esc(`${b.label}: ${unit(b.value)} ${b.note}`)}</title></rect>`);
    parts.push(`<text x="${(LABEL_W + w + 6).toFixed(1)}" y="${y + BAR_H - 5}" class="note">${esc(`${unit(b.value)}  ${b.note}`)}</text>`);
  });
  return { svg: parts.join('\n'), height: 44 + plotH + 30 };
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (raw <= m * p) return m * p;
  return 10 * p;
}

export function svgReport(r: BenchReport): string {
  const panels: string[] = [];
  let y = 10;
  for (const c of r.throughput) {
    const rows = throughputRows(c);
    const mpop = rows.find((x) => x.id === 'mpop')?.median ?? Number.NaN;
    const bars: Bar[] = rows.map((x) => ({
      label: x.label,
      value: x.median / 1000,
      color: COLORS[kindOf(x.id)],
      note: Number.isFinite(mpop) ? `(${fmtRatio(x.median / mpop)} mpop)` : '',
    }));
    const p = panel(`Fetch ${corpusTitle(c)}`, 'median wall time, spawn to exit, TLS 1.3, keep mode; shorter is better', bars, (v) => `${v.toFixed(v < 10 ? 1 : 0)} s`, y);
    panels.push(p.svg);
    y += p.height;
  }
  if (r.rss.length > 0) {
    const bars: Bar[] = r.rss.map((x) => ({
      label: x.mode === 'baseline' ? 'baseline (no fetch)' : `${x.mode === 'discard' ? 'engine -> discard' : 'engine -> S3 sink'}, ${x.octets / 1e6} MB`,
      value: x.peakKb / 1024,
      color: x.mode === 'baseline' ? COLORS.ceiling : x.mode === 'discard' ? COLORS.ours : '#5aa0d8',
      note: '',
    }));
    const p = panel('Peak RSS fetching one message', 'VmHWM of the whole process; flat = independent of message size', bars, (v) => `${v.toFixed(0)} MiB`, y);
    panels.push(p.svg);
    y += p.height;
  }
  const legendY = y + 4;
  const legend = (['ceiling', 'ours', 'classic'] as Kind[])
    .map((k, i) => {
      const x = 10 + i * 230;
      const text = k === 'ceiling' ? 'pipelined reference client (ceiling)' : k === 'ours' ? 'mailfetch (engine, worker)' : 'classic fetchers (Debian)';
      return `<rect x="${x}" y="${legendY}" width="12" height="12" fill="${COLORS[k]}"/><text x="${x + 18}" y="${legendY + 11}" class="label">${esc(text)}</text>`;
    })
    .join('\n');
  const height = legendY + 40;
  const caption = `${r.machine.cpus} × ${r.machine.cpuModel}, node ${r.versions.node}, ${r.date.slice(0, 10)}${r.quick ? ' (BENCH_QUICK smoke run)' : ''}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" viewBox="0 0 ${W} ${height}" font-family="Helvetica, Arial, sans-serif">
<style>
.title { font-size: 15px; font-weight: bold; fill: #222; }
.sub { font-size: 11px; fill: #666; }
.label { font-size: 12px; fill: #222; }
.note { font-size: 11px; fill: #444; }
.tick { font-size: 10px; fill: #777; }
.grid { stroke: #e3e3e3; stroke-width: 1; }
</style>
<rect x="0" y="0" width="${W}" height="${height}" fill="#ffffff"/>
${panels.join('\n')}
${legend}
<text x="10" y="${legendY + 32}" class="sub">${esc(caption)}</text>
</svg>
`;
}
