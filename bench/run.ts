/**
 * `npm run bench`: every benchmark in one run, against one Dovecot and one corpus; prints
 * the tables and writes docs/benchmarks.md and docs/benchmarks.svg. Never part of
 * `npm test` or CI. Needs scripts/install-bench-tools.sh (Dovecot, mpop, fetchmail,
 * getmail6, Java for DynamoDB Local). BENCH_QUICK=1: tiny corpus, one repetition (a smoke
 * run: the report says its figures mean nothing).
 *
 * Every comparison is a ratio against a reference measured in the same run; nothing here
 * asserts a time.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { startDovecot, type DovecotInstance } from '../test/fixtures/dovecot';
import { createLocalDynamoDbClient } from '../lambda/local/embedded-aws';
import { createLocalS3Client, startDynalite, startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../test/fixtures/aws-local';
import { runBundle } from './bundle.bench';
import { runCliStart } from './cli-start.bench';
import { bundleClient } from './build';
import { benchTmpRoot, canMeasureCpu, exec, fmtMs, log, median, nowMs, QUICK, silenceNodeVersionWarning } from './common';
import { attachmentMessage, makeCorpus, textMessage, type CorpusSpec } from './corpus';
import { runDecoderBench } from './decoder.bench';
import { latencyFigures } from './latency-report';
import { startLatencyModel, type LatencyModel } from './latency-model/start-latency-model';
import { reRunOnLambdaNode } from './lambda-node';
import { runListing } from './listing-run';
import { runSdkFloor } from './sdk-floor.bench';
import { machineInfo, versions } from './machine';
import { runReadUnits } from './read-units.bench';
import { consoleReport, markdownReport, svgReport, type BenchReport } from './report';
import { runRss, type RssSize } from './rss.bench';
import { loadBaseline, targetRows } from './targets';
import { runThroughput, runWorkerWarm, writeCaFile, type CorpusResult, type Environment, type ToolId } from './throughput.bench';

const ROOT = resolve(import.meta.dirname, '..');
const DOCS = join(ROOT, 'docs');

const SETTINGS = QUICK
  ? {
      corpora: [
        { name: 'small', user: 'small', count: 100, octets: 10_000, make: textMessage },
        { name: 'large', user: 'large', count: 10, octets: 1_000_000, make: attachmentMessage },
      ],
      repetitions: 1,
      slowRepetitions: 1,
      ddbLocalRepetitions: 1,
      rssSizes: [1, 2, 5],
      rssRepetitions: 1,
      bundleRuns: 3,
      readUnits: [100, 1_000],
      readUnitsDdbLocal: [100],
      warmRepetitions: 1,
      listingEntries: 100_000,
      sdkFloorRequests: 200,
    }
  : {
      corpora: [
        { name: 'small', user: 'small', count: 2_000, octets: 10_000, make: textMessage },
        { name: 'large', user: 'large', count: 200, octets: 1_000_000, make: attachmentMessage },
      ],
      repetitions: 5,
      slowRepetitions: 3,
      ddbLocalRepetitions: 1,
      // 200 MB shows where the S3 sink's buffers level off.
      rssSizes: [10, 50, 100, 200],
      rssRepetitions: 2,
      bundleRuns: 15,
      readUnits: [1_000, 10_000, 100_000],
      readUnitsDdbLocal: [1_000, 10_000],
      warmRepetitions: 3,
      listingEntries: 1_000_000,
      sdkFloorRequests: 2_000,
    };
/** A tool whose first run takes longer than this gets `slowRepetitions` runs (time budget). */
const SLOW_AFTER_MS = 8_000;

const ALL_TOOLS: readonly ToolId[] = ['reference', 'engine', 'engine-maildir', 'worker-dynalite', 'worker-ddblocal', 'worker-latency', 'mpop', 'fetchmail', 'getmail6'];

async function installed(cmd: string): Promise<boolean> {
  try {
    return (await exec('sh', ['-c', `command -v ${cmd}`])).code === 0;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  reRunOnLambdaNode(log);
  silenceNodeVersionWarning();
  const started = nowMs();
  const machine = machineInfo();
  // Some machines set NODE_EXTRA_CA_CERTS for every process (a system bundle): every Node
  // tool whose trust includes the default roots then parses that file, tens of ms each.
  // Lambda's Node 20+ runtimes leave it unset, and each tool gets the bench's CA anyway.
  delete process.env.NODE_EXTRA_CA_CERTS;
  const skipped: string[] = [];
  const tmpRoot = await benchTmpRoot();
  // Every fixture's scratch dir (Dovecot's Maildirs, s3rver's store) lands on the same tmpfs.
  process.env.TMPDIR = tmpRoot;
  log(`scratch ${tmpRoot}${QUICK ? ' (BENCH_QUICK)' : ''}`);

  const tools: ToolId[] = [];
  for (const id of ALL_TOOLS) {
    const cmd = id === 'mpop' || id === 'fetchmail' ? id : id === 'getmail6' ? 'getmail' : id === 'worker-ddblocal' ? 'java' : undefined;
    if (cmd && !(await installed(cmd))) {
      skipped.push(`${id}: \`${cmd}\` is not installed (scripts/install-bench-tools.sh)`);
      continue;
    }
    tools.push(id);
  }
  if (!(await canMeasureCpu())) skipped.push('CPU times: GNU time (/usr/bin/time, package `time`) is not installed');

  const report: BenchReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    quick: QUICK,
    durationMs: 0,
    machine,
    versions: await versions(),
    settings: {
      repetitions: SETTINGS.repetitions,
      slowRepetitions: SETTINGS.slowRepetitions,
      slowAfterMs: SLOW_AFTER_MS,
      ddbLocalRepetitions: SETTINGS.ddbLocalRepetitions,
      tmpRoot,
    },
    throughput: [],
    rss: [],
    readUnits: [],
    targets: [],
    skipped,
    findings: [],
  };

  log('decoder micro-benchmark');
  report.decoder = runDecoderBench();

  let dovecot: DovecotInstance | undefined;
  let s3: LocalS3 | undefined;
  let dynalite: LocalDynamo | undefined;
  let ddbLocal: LocalDynamo | undefined;
  let latency: Environment['latency'];
  try {
    const rssSizes: RssSize[] = SETTINGS.rssSizes.map((mb) => ({ user: `rss${mb}`, octets: mb * 1_000_000 }));
    const users = [...SETTINGS.corpora.map((c) => c.user), ...rssSizes.map((r) => r.user)];
    log('starting Dovecot, s3rver, dynalite, the AWS latency model' + (tools.includes('worker-ddblocal') ? ', DynamoDB Local' : ''));
    dovecot = await startDovecot({
      users: users.map((name) => ({ name, password: `${name}-pw` })),
      oauth: false,
      // One cipher for every client; %k logs what each session negotiated.
      extraConfig: [
        'ssl_min_protocol = TLSv1.3',
        'ssl_cipher_suites = TLS_AES_256_GCM_SHA384',
        'ssl_prefer_server_ciphers = yes',
        'login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c %k',
      ].join('\n'),
    });
    let model: LatencyModel;
    [s3, dynalite, model] = await Promise.all([startS3rver(), startDynalite(), startLatencyModel()]);
    latency = { model, s3: createLocalS3Client(model.s3Endpoint), dynamodb: createLocalDynamoDbClient(model.dynamoEndpoint) };
    if (tools.includes('worker-ddblocal')) ddbLocal = await startDynamoDbLocal();

    log('writing the corpus');
    for (const c of SETTINGS.corpora) await dovecot.deliver(c.user, makeCorpus(c));
    for (const r of rssSizes) await dovecot.deliver(r.user, [attachmentMessage(1, r.octets)]);

    const env: Environment = {
      dovecot,
      caFile: await writeCaFile({ dovecot }, tmpRoot),
      clientBundle: await bundleClient(tmpRoot),
      s3,
      dynalite,
      ddbLocal,
      latency,
      scratch: tmpRoot,
      password: (user) => `${user}-pw`,
    };

    report.throughput = await runThroughputBudgeted(env, SETTINGS.corpora, tools);
    if (tools.includes('worker-dynalite')) {
      log('worker: a fresh process against a warm one');
      report.warm = await runWorkerWarm(env, SETTINGS.corpora[0]!, SETTINGS.warmRepetitions);
    }
    // A step that fails is reported as not measured (with its error) instead of losing the run.
    const step = async (name: string, run: () => Promise<void>): Promise<void> => {
      log(name);
      try {
        await run();
      } catch (err) {
        log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
        skipped.push(`${name}: failed: ${(err as Error).message.split('\n')[0]}`);
      }
    };
    await step('peak RSS', async () => void (report.rss = await runRss(env, rssSizes, SETTINGS.rssRepetitions)));
    await step('Lambda bundle', async () => void (report.bundle = await runBundle(tmpRoot, SETTINGS.bundleRuns)));
    await step('command start', async () => void (report.cliStart = await runCliStart(tmpRoot, ROOT, SETTINGS.bundleRuns)));
    await step('DynamoDB read units (dynalite)', async () => void report.readUnits.push(...(await runReadUnits('dynalite', dynalite!, SETTINGS.readUnits))));
    if (ddbLocal) {
      const local = ddbLocal;
      await step('DynamoDB read units (DynamoDB Local)', async () => void report.readUnits.push(...(await runReadUnits('DynamoDB Local', local, SETTINGS.readUnitsDdbLocal))));
    }
    await step('AWS SDK CPU per request', async () => void (report.sdkFloor = await runSdkFloor(SETTINGS.sdkFloorRequests)));
    await step(`listing (${SETTINGS.listingEntries.toLocaleString('en-US')} entries)`, async () => void (report.listing = await runListing(SETTINGS.listingEntries)));
  } finally {
    latency?.s3.destroy();
    latency?.dynamodb.destroy();
    await Promise.allSettled([dovecot?.stop(), s3?.stop(), dynalite?.stop(), ddbLocal?.stop(), latency?.model.stop()]);
    await rm(tmpRoot, { recursive: true, force: true });
  }

  machine.loadEnd = os.loadavg()[0]!;
  report.durationMs = nowMs() - started;
  // The measurements alone, so that `npm run bench -- --render` can write the page again.
  await mkdir(dirname(LAST_RUN), { recursive: true });
  await writeFile(LAST_RUN, JSON.stringify(report));
  await writeDocs(report);
}

/** The measurements of the last full run (git-ignored): what --render reads. */
const LAST_RUN = join(ROOT, 'bench', 'results', 'last-run.json');

/** Findings and targets from the measurements, then docs/benchmarks.md and .svg. */
async function writeDocs(report: BenchReport): Promise<void> {
  report.findings.splice(0, report.findings.length, ...findings(report));
  const baseline = await loadBaseline();
  if (baseline) report.baseline = { label: baseline.label, note: baseline.note };
  report.targets = targetRows(report, baseline);
  await mkdir(DOCS, { recursive: true });
  await writeFile(join(DOCS, 'benchmarks.md'), markdownReport(report));
  await writeFile(join(DOCS, 'benchmarks.svg'), svgReport(report));
  console.log(consoleReport(report));
  console.log(`\nwrote docs/benchmarks.md and docs/benchmarks.svg (the run took ${fmtMs(report.durationMs)})`);
}

/** `--render`: the page again from the last run's measurements (after a change to the report's text or targets), without measuring. */
async function render(): Promise<void> {
  const report = JSON.parse(await readFile(LAST_RUN, 'utf8')) as BenchReport;
  await writeDocs(report);
}

/**
 * The interleaved runs, with a time budget: a first round of every tool decides which are
 * slow (over SLOW_AFTER_MS); those get fewer repetitions. DynamoDB Local's worker row gets
 * ddbLocalRepetitions (it is the slowest row and the least interesting one).
 */
async function runThroughputBudgeted(env: Environment, corpora: readonly CorpusSpec[], tools: readonly ToolId[]): Promise<CorpusResult[]> {
  const results: CorpusResult[] = [];
  for (const corpus of corpora) {
    log(`fetch benchmark: ${corpus.name}`);
    const first = (await runThroughput(env, { corpora: [corpus], tools, repetitions: 1 }))[0]!;
    const more = (id: ToolId, ms: number): number => {
      if (id === 'worker-ddblocal') return SETTINGS.ddbLocalRepetitions - 1;
      return (ms > SLOW_AFTER_MS ? SETTINGS.slowRepetitions : SETTINGS.repetitions) - 1;
    };
    const counts = first.tools.map((t) => more(t.id, t.ms[0]!));
    const rounds = Math.max(0, ...counts);
    for (let round = 0; round < rounds; round++) {
      // Tools still due a run this round, interleaved as before.
      const due = first.tools.filter((_, i) => counts[i]! > round).map((t) => t.id);
      if (due.length === 0) break;
      const next = (await runThroughput(env, { corpora: [corpus], tools: due, repetitions: 1, rotateBy: round + 1, warmUp: false }))[0]!;
      for (const t of next.tools) {
        const into = first.tools.find((x) => x.id === t.id)!;
        into.ms.push(...t.ms);
        into.innerMs.push(...t.innerMs);
        into.cpuMs.push(...t.cpuMs);
        into.latency.push(...t.latency);
        into.emulatorCpuMs.push(...t.emulatorCpuMs);
      }
    }
    results.push(first);
  }
  return results;
}

/** Observations computed from this run's own figures (ratios, per-message costs). */
function findings(r: BenchReport): string[] {
  const out: string[] = [];
  const cpu = (c: CorpusResult, id: ToolId): number => median(c.tools.find((t) => t.id === id)?.cpuMs ?? []);
  const small = r.throughput.find((c) => c.corpus.name === 'small');
  const large = r.throughput.find((c) => c.corpus.name === 'large');
  if (small) {
    const perMsg = (id: ToolId): number => (cpu(small, id) - cpu(small, 'reference')) / small.corpus.count;
    const engine = perMsg('engine');
    const worker = perMsg('worker-dynalite');
    if (Number.isFinite(engine)) {
      out.push(`Small messages: the engine spends ${engine.toFixed(2)} ms of CPU per message more than the ceiling client (Node streams and promise hops per reply; the ceiling does no per-message work at all).`);
    }
    if (Number.isFinite(worker)) {
      out.push(
        `The worker spends ${worker.toFixed(1)} ms of CPU per small message more than the ceiling: most of it storing (one signed HTTP PutObject per message, ` +
          'its metadata from the header block, and one BatchWriteItem per 25 records, both signed and sent by the worker itself), not in the POP3 engine.',
      );
    }
    if (r.sdkFloor) {
      const f = r.sdkFloor;
      out.push(
        `The floor under the worker's CPU per message: one PutObject of ${f.messageOctets / 1000} KB costs ${f.directPutObjectCpuMs.toFixed(2)} ms of CPU through the sink's direct path ` +
          `(${f.nodeHttpPutObjectCpuMs.toFixed(2)} ms signed the same way and sent through node:http, as the direct path did before its own HTTP/1.1 client; ` +
          `${f.putObjectCpuMs.toFixed(2)} ms through the AWS SDK; no delay, no server work in this process), and ` +
          (f.directBatchedRecordCpuMs === undefined
            ? `${f.batchedRecordCpuMs.toFixed(3)} ms per record written 25 to a BatchWriteItem. `
            : `${f.directBatchedRecordCpuMs.toFixed(3)} ms per record written 25 to a BatchWriteItem through the state store's direct path (${f.batchedRecordCpuMs.toFixed(3)} ms through the AWS SDK). `) +
          'One object per message is the product, so the worker cannot get below the PutObject figure per message.',
      );
    }
  }
  const underLatency = small ? latencyFigures(small) : undefined;
  if (underLatency) {
    const f = underLatency;
    out.push(
      `Under the AWS latency model the worker spends ${f.innerPerMessageMs.toFixed(1)} ms of in-process time per small message for ${(f.s3PerMessage + f.dynamoPerMessage).toFixed(2)} requests ` +
        `(${f.s3PerMessage.toFixed(2)} S3, ${f.dynamoPerMessage.toFixed(2)} DynamoDB) that wait ${f.waitPerMessageMs.toFixed(1)} ms in all: ${(f.waitPerMessageMs / f.innerPerMessageMs).toFixed(1)} requests in flight on average.`,
    );
  }
  if (large) {
    const e = median(large.tools.find((t) => t.id === 'engine')?.ms ?? []);
    const ref = median(large.tools.find((t) => t.id === 'reference')?.ms ?? []);
    if (Number.isFinite(e / ref)) out.push(`Large messages: the engine runs at ${(e / ref).toFixed(2)}x the ceiling's wall time (TLS and Dovecot dominate; the unstuffing decoder is not the bottleneck).`);
  }
  if (small) {
    const med = (id: ToolId): number => median(small.tools.find((t) => t.id === id)?.ms ?? []);
    if (med('mpop') < med('reference')) {
      out.push(
        `On the small corpus mpop (${fmtMs(med('mpop'))}) beats the Node ceiling client (${fmtMs(med('reference'))}): the ceiling is the fastest a Node process can be, and Node's start-up alone ` +
          `is a large share of a sub-second run (the ceiling's in-process time is ${fmtMs(median(small.tools.find((t) => t.id === 'reference')?.innerMs ?? []))}).`,
      );
    }
  }
  const discard = r.rss.filter((x) => x.mode === 'discard');
  const s3 = r.rss.filter((x) => x.mode === 's3');
  const base = r.rss.find((x) => x.mode === 'baseline')?.peakKb ?? 0;
  if (discard.length >= 2) {
    const a = discard[0]!;
    const b = discard[discard.length - 1]!;
    out.push(
      `Peak RSS through the engine changes by ${((b.peakKb - a.peakKb) / 1024).toFixed(1)} MiB from a ${a.octets / 1e6} MB to a ${b.octets / 1e6} MB message (discarding sink): flat, bounded by buffers, not by the message.`,
    );
  }
  if (s3.length >= 2) {
    const cells = s3.map((x) => `+${((x.peakKb - base) / 1024).toFixed(0)} MiB at ${x.octets / 1e6} MB`).join(', ');
    out.push(
      `The S3 sink's peak above the baseline: ${cells}. It levels off once a message is a few parts long: the engine's own peak (the discarding sink) ` +
        'plus the sink\'s (queueSize + 1) part buffers (24 MiB with the defaults), filled in place and reused for every part.',
    );
  }
  const ru = r.readUnits.filter((x) => x.backend === 'dynalite');
  if (ru.length > 0) {
    const big = ru[ru.length - 1]!;
    out.push(
      `A no-new-mail run reads ${big.fastPath.readUnits} unit(s) at ${big.records.toLocaleString('en-US')} recorded messages (the full diff: ${big.fullDiff.readUnits}); its time there, ${fmtMs(big.fastPath.ms)}, ` +
        'is mostly reading and parsing the POP3 listing (UIDL + LIST of every message), which POP3 requires on every run.',
    );
  }
  return out;
}

(process.argv.includes('--render') ? render() : main()).then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
