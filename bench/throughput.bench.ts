/**
 * Wall time to fetch the same mailboxes from the same Dovecot, every tool from "nothing
 * seen", in keep mode, over implicit TLS with one cipher (the server allows only TLS 1.3
 * with TLS_AES_256_GCM_SHA384). Every row is a process timed from spawn to exit; the
 * repetitions are interleaved (each repetition starts with the next tool) and the median
 * is reported, with ratios to mpop and to the pipelined reference client (the ceiling).
 */
import { DeleteTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import { readdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureTable } from '../lambda/state/table-schema';
import type { LocalDynamo, LocalS3 } from '../test/fixtures/aws-local';
import type { DovecotInstance } from '../test/fixtures/dovecot';
import { CLASSIC_TOOLS, type MailboxTarget } from './classic-tools';
import type { ClientJob, ClientMode, ClientResult } from './client';
import { execMeasured, freshDir, log, makeMaildir, processCpuMs, rotate } from './common';
import type { CorpusSpec } from './corpus';
import type { LatencyTallies } from './latency-model/latency-tally';
import type { LatencyModel } from './latency-model/start-latency-model';
import { countStored, type StoredCount } from './worker-stored';

export type ToolId = 'reference' | 'engine' | 'engine-maildir' | 'worker-dynalite' | 'worker-ddblocal' | 'worker-latency' | 'mpop' | 'fetchmail' | 'getmail6';

/** The worker rows: each run's stored objects and records are counted afterwards. */
export const WORKER_TOOLS: readonly ToolId[] = ['worker-dynalite', 'worker-ddblocal', 'worker-latency'];

export interface ToolInfo {
  readonly id: ToolId;
  readonly label: string;
  /** What it does with each message, for the report. */
  readonly does: string;
}

export const TOOLS: readonly ToolInfo[] = [
  { id: 'reference', label: 'reference client (ceiling)', does: 'plain node:tls; STAT, every RETR in one write; counts bytes to the last terminator; discards' },
  { id: 'engine', label: 'mailfetch engine', does: 'openSession, UIDL + LIST, every RETR queued (the engine pipelines them, 100 outstanding), each unstuffed MessageStream read to its end and dropped' },
  { id: 'engine-maildir', label: 'mailfetch engine -> Maildir', does: 'the same, each message written to Maildir/tmp then renamed into new/ (as mpop does)' },
  { id: 'worker-dynalite', label: 'mailfetch worker (s3rver + dynalite)', does: 'runMailbox end to end, SDK clients as the handler builds them: lease, UIDL + LIST, plan, RETR look-ahead, S3 object per message, conditional DynamoDB record, summary' },
  { id: 'worker-ddblocal', label: 'mailfetch worker (s3rver + DynamoDB Local)', does: 'the same, state in DynamoDB Local (Java)' },
  {
    id: 'worker-latency',
    label: 'mailfetch worker (AWS latency model)',
    does:
      'the same, against the AWS latency model (bench/latency-model/: S3 and DynamoDB in memory in another process, answering after 20 ms per S3 PUT-class request, ' +
      '8 ms per DynamoDB write, 5 ms per read); the S3 client keeps the SDK\'s default checksums, as the handler\'s does',
  },
  { id: 'mpop', label: 'mpop', does: 'pipelined RETR; native Maildir delivery (tmp, rename into new/); no Received header' },
  { id: 'fetchmail', label: 'fetchmail', does: 'RETR one at a time; MDA `exec cat > Maildir/new/<pid>` via /bin/sh per message; adds Received' },
  { id: 'getmail6', label: 'getmail6', does: 'RETR one at a time (Python poplib); native Maildir delivery; no added headers' },
];

export interface Environment {
  readonly dovecot: DovecotInstance;
  readonly caFile: string;
  readonly clientBundle: string;
  readonly s3: LocalS3;
  readonly dynalite: LocalDynamo;
  /** DynamoDB Local, when Java is there. */
  readonly ddbLocal: LocalDynamo | undefined;
  /** The AWS latency model, with clients for the bench's own set-up and counting. */
  readonly latency: { readonly model: LatencyModel; readonly s3: S3Client; readonly dynamodb: DynamoDBClient } | undefined;
  readonly scratch: string;
  readonly password: (user: string) => string;
}

export interface ToolSamples {
  readonly id: ToolId;
  /** Spawn-to-exit wall times. */
  readonly ms: number[];
  /** For our own processes: the time inside the process (no Node start-up). */
  readonly innerMs: number[];
  /** CPU time (user + sys) of the tool's process tree. */
  readonly cpuMs: number[];
  /** TLS protocol and cipher as Dovecot logged them for this tool's sessions. */
  tls: string | undefined;
  readUnits?: number;
  writeUnits?: number;
  /** The latency model's counts, one per run (worker-latency only). */
  readonly latency: LatencyTallies[];
  /** CPU the S3 and DynamoDB emulators spent during each run (worker rows on s3rver and dynalite or DynamoDB Local). */
  readonly emulatorCpuMs: number[];
}

export interface CorpusResult {
  readonly corpus: CorpusSpec;
  readonly octets: number;
  readonly tools: ToolSamples[];
}

export interface ClientRun {
  readonly ms: number;
  readonly cpuMs: number | undefined;
  readonly result: ClientResult;
}

export async function runClient(env: Environment, job: ClientJob): Promise<ClientRun> {
  const r = await execMeasured(process.execPath, [env.clientBundle, JSON.stringify(job)], { timeoutMs: 15 * 60_000, scratch: env.scratch });
  if (r.code !== 0) throw new Error(`bench client (${job.mode}) failed with ${r.code ?? r.signal}:\n${r.stderr.trim().slice(-4000)}`);
  const line = r.stdout.trim().split('\n').pop() ?? '';
  return { ms: r.ms, cpuMs: r.cpuMs, result: JSON.parse(line) as ClientResult };
}

function job(env: Environment, mode: ClientMode, user: string, extra: Partial<ClientJob> = {}): ClientJob {
  return { mode, host: env.dovecot.host, port: env.dovecot.tlsPort, user, password: env.password(user), caFile: env.caFile, ...extra };
}

/** Where a worker run stores: S3 and DynamoDB endpoints, clients for set-up and counting. */
interface WorkerBackend {
  readonly s3Endpoint: string;
  readonly s3: S3Client;
  readonly dynamoEndpoint: string;
  readonly dynamodb: DynamoDBClient;
  /** The worker's S3 client keeps the SDK's default checksums (s3rver stores aws-chunked framing as data). */
  readonly sdkDefaultChecksums: boolean;
  readonly latency?: LatencyModel;
  /**
   * The emulators' processes, whose CPU a run is charged with: s3rver's child, and DynamoDB
   * Local's JVM or, for dynalite, which runs in the bench's own process, undefined (this
   * process: it only waits for the worker meanwhile). None for the latency model.
   */
  readonly emulatorPids: readonly (number | undefined)[];
  /** Frees what one run stored. */
  drop(bucket: string, table: string): Promise<void>;
}

function workerBackend(env: Environment, id: ToolId): WorkerBackend {
  if (id === 'worker-latency') {
    const l = env.latency!;
    return {
      s3Endpoint: l.model.s3Endpoint,
      s3: l.s3,
      dynamoEndpoint: l.model.dynamoEndpoint,
      dynamodb: l.dynamodb,
      sdkDefaultChecksums: true,
      latency: l.model,
      emulatorPids: [],
      drop: () => l.model.clear(),
    };
  }
  const dynamo = id === 'worker-ddblocal' ? env.ddbLocal! : env.dynalite;
  return {
    s3Endpoint: env.s3.endpoint,
    s3: env.s3.s3,
    dynamoEndpoint: dynamo.endpoint,
    dynamodb: dynamo.dynamodb,
    sdkDefaultChecksums: false,
    emulatorPids: [env.s3.pid, dynamo.pid],
    drop: async (bucket, table) => {
      // Behind s3rver's back (it keeps no index): a rerun never reads these buckets again.
      await rm(join(env.s3.dir, bucket), { recursive: true, force: true });
      await dropTable(dynamo.dynamodb, table);
    },
  };
}

/** The mailbox id the bench client's worker runs under (bench/client.ts). */
const WORKER_MAILBOX_ID = 'bench';

export interface WorkerRun extends ClientRun {
  /** Objects and stored records counted after the run. */
  readonly stored: StoredCount;
  /** The latency model's counts for this run alone. */
  readonly latency?: LatencyTallies;
  /** CPU the emulators spent during the run (see WorkerBackend.emulatorPids); undefined when unreadable or none. */
  readonly emulatorCpuMs?: number;
}

/** CPU used so far by all of `pids` (see processCpuMs); undefined when one cannot be read, or for none. */
function emulatorsCpuMs(pids: readonly (number | undefined)[]): number | undefined {
  if (pids.length === 0) return undefined;
  let sum = 0;
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms === undefined) return undefined;
    sum += ms;
  }
  return sum;
}

async function runWorker(env: Environment, user: string, backend: WorkerBackend): Promise<WorkerRun> {
  const bucket = `bench-${randomUUID().slice(0, 8)}`;
  const table = `bench-${randomUUID().slice(0, 8)}`;
  await backend.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await ensureTable(backend.dynamodb, table);
  try {
    await backend.latency?.resetTallies();
    const emulatorsBefore = emulatorsCpuMs(backend.emulatorPids);
    const run = await runClient(
      env,
      job(env, 'worker', user, { s3Endpoint: backend.s3Endpoint, dynamoEndpoint: backend.dynamoEndpoint, bucket, table, sdkDefaultChecksums: backend.sdkDefaultChecksums }),
    );
    const emulatorsAfter = emulatorsCpuMs(backend.emulatorPids);
    const latency = await backend.latency?.tallies();
    const stored = await countStored(backend.s3, bucket, backend.dynamodb, table, WORKER_MAILBOX_ID);
    const emulatorCpuMs = emulatorsBefore !== undefined && emulatorsAfter !== undefined ? emulatorsAfter - emulatorsBefore : undefined;
    return { ...run, stored, ...(latency ? { latency } : {}), ...(emulatorCpuMs !== undefined ? { emulatorCpuMs } : {}) };
  } finally {
    await backend.drop(bucket, table);
  }
}

async function dropTable(dynamodb: DynamoDBClient, table: string): Promise<void> {
  await dynamodb.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
}

interface ToolRun {
  readonly ms: number;
  readonly cpuMs: number | undefined;
  readonly messages: number;
  /** Our own processes: what they reported. */
  readonly result?: ClientResult;
  /** Worker rows: what was found stored afterwards. */
  readonly stored?: StoredCount;
  readonly latency?: LatencyTallies;
  readonly emulatorCpuMs?: number;
}

function fromClient(r: ClientRun | WorkerRun): ToolRun {
  return {
    ms: r.ms,
    cpuMs: r.cpuMs,
    messages: r.result.messages,
    result: r.result,
    ...('stored' in r ? { stored: r.stored, latency: r.latency, emulatorCpuMs: r.emulatorCpuMs } : {}),
  };
}

/** One run of one tool on one mailbox. */
async function runTool(env: Environment, id: ToolId, corpus: CorpusSpec): Promise<ToolRun> {
  const scratch = await freshDir(env.scratch, `run-${id}`);
  try {
    switch (id) {
      case 'reference':
      case 'engine':
        return fromClient(await runClient(env, job(env, id, corpus.user)));
      case 'engine-maildir': {
        const maildir = await makeMaildir(join(scratch, 'Maildir'));
        return fromClient(await runClient(env, job(env, id, corpus.user, { maildir })));
      }
      case 'worker-dynalite':
      case 'worker-ddblocal':
      case 'worker-latency':
        return fromClient(await runWorker(env, corpus.user, workerBackend(env, id)));
      default: {
        const tool = CLASSIC_TOOLS.find((t) => t.id === id)!;
        const target: MailboxTarget = { host: env.dovecot.host, tlsPort: env.dovecot.tlsPort, user: corpus.user, password: env.password(corpus.user), caFile: env.caFile };
        return await tool.run(target, scratch);
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The TLS details Dovecot logged (login_log_format_elements with %k) since `offset`. */
async function tlsFromLog(env: Environment, offset: number): Promise<string | undefined> {
  const log = await env.dovecot.readLog();
  const fresh = log.slice(offset);
  return /(TLSv[\d.]+ with cipher [A-Z0-9_-]+)/.exec(fresh)?.[1];
}

export interface ThroughputOptions {
  readonly corpora: readonly CorpusSpec[];
  readonly tools: readonly ToolId[];
  readonly repetitions: number;
  /** Rotation of the tool order of the first repetition (interleaving across calls). @default 0 */
  readonly rotateBy?: number;
  /** One untimed reference run first (Dovecot indexes a fresh Maildir). @default true */
  readonly warmUp?: boolean;
}

export async function runThroughput(env: Environment, o: ThroughputOptions): Promise<CorpusResult[]> {
  const results: CorpusResult[] = [];
  for (const corpus of o.corpora) {
    const samples = new Map<ToolId, ToolSamples>(o.tools.map((id) => [id, { id, ms: [], innerMs: [], cpuMs: [], tls: undefined, latency: [], emulatorCpuMs: [] }]));
    // Untimed warm-up: Dovecot indexes the fresh Maildir in the first session.
    if (o.warmUp ?? true) await runTool(env, 'reference', corpus);
    for (let rep = 0; rep < o.repetitions; rep++) {
      for (const id of rotate(o.tools, rep + (o.rotateBy ?? 0))) {
        const s = samples.get(id)!;
        const logOffset = (await env.dovecot.readLog()).length;
        const r = await runTool(env, id, corpus);
        if (r.messages !== corpus.count) {
          throw new Error(`${id} fetched ${r.messages} of ${corpus.count} messages of ${corpus.name}`);
        }
        if (r.stored && (r.stored.objects !== corpus.count || r.stored.records !== corpus.count)) {
          throw new Error(`${id} left ${r.stored.objects} objects and ${r.stored.records} stored records for the ${corpus.count} messages of ${corpus.name}`);
        }
        if (r.latency) s.latency.push(r.latency);
        if (r.emulatorCpuMs !== undefined) s.emulatorCpuMs.push(r.emulatorCpuMs);
        s.ms.push(r.ms);
        if (r.result) s.innerMs.push(r.result.ms);
        if (r.cpuMs !== undefined) s.cpuMs.push(r.cpuMs);
        if (r.result?.readUnits !== undefined) {
          s.readUnits = r.result.readUnits;
          s.writeUnits = r.result.writeUnits;
        }
        s.tls ??= await tlsFromLog(env, logOffset);
        log(`${corpus.name} ${id}: ${r.ms.toFixed(0)} ms wall, ${r.cpuMs?.toFixed(0) ?? '?'} ms CPU`);
      }
    }
    results.push({ corpus, octets: await mailboxOctets(env, corpus), tools: [...samples.values()] });
  }
  return results;
}

async function mailboxOctets(env: Environment, corpus: CorpusSpec): Promise<number> {
  let total = 0;
  for (const sub of ['cur', 'new']) {
    const dir = join(env.dovecot.dir, 'mail', corpus.user, 'Maildir', sub);
    for (const name of await readdir(dir).catch(() => [] as string[])) total += (await stat(join(dir, name))).size;
  }
  return total;
}

export async function writeCaFile(env: { dovecot: DovecotInstance }, dir: string): Promise<string> {
  const file = join(dir, 'ca.pem');
  await writeFile(file, env.dovecot.ca, { mode: 0o644 });
  return file;
}

export interface WarmRunResult {
  readonly corpus: CorpusSpec;
  /** Whole worker process, the first run of the mailbox: start-up and compiling the hot code included. */
  readonly coldCpuMs: number[];
  /** The same mailbox again, in the same process, into another bucket and table. */
  readonly warmCpuMs: number[];
  /** A third time in the same process: V8 has compiled what the runs use (missing in runs before it). */
  readonly steadyCpuMs?: number[];
}

/**
 * The worker (s3rver + dynalite) fetching the mailbox twice in one process: what a run
 * costs in a fresh process (the figure the target is on) against one on a warm instance,
 * which Lambda reuses for the next scheduled run. The difference is paid once per process:
 * loading the modules, the TLS context, compiling the hot code.
 */
export async function runWorkerWarm(env: Environment, corpus: CorpusSpec, repetitions: number): Promise<WarmRunResult> {
  const result = { corpus, coldCpuMs: [] as number[], warmCpuMs: [] as number[], steadyCpuMs: [] as number[] };
  const backend = workerBackend(env, 'worker-dynalite');
  for (let rep = 0; rep < repetitions; rep++) {
    const names = [0, 1, 2].map(() => ({ bucket: `bench-${randomUUID().slice(0, 8)}`, table: `bench-${randomUUID().slice(0, 8)}` }));
    for (const { bucket, table } of names) {
      await backend.s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await ensureTable(backend.dynamodb, table);
    }
    const [first, second, third] = names as [{ bucket: string; table: string }, { bucket: string; table: string }, { bucket: string; table: string }];
    try {
      const run = await runClient(
        env,
        job(env, 'worker', corpus.user, { s3Endpoint: backend.s3Endpoint, dynamoEndpoint: backend.dynamoEndpoint, ...first, sdkDefaultChecksums: backend.sdkDefaultChecksums, warmRun: second, steadyRun: third }),
      );
      const { messages, warmMessages, warmCpuMs, steadyMessages, steadyCpuMs } = run.result;
      if (messages !== corpus.count || warmMessages !== corpus.count || steadyMessages !== corpus.count || warmCpuMs === undefined || steadyCpuMs === undefined || run.cpuMs === undefined) {
        throw new Error(`worker fetched ${messages}, ${String(warmMessages)} then ${String(steadyMessages)} of ${corpus.count} (CPU ${String(run.cpuMs)} / ${String(warmCpuMs)} / ${String(steadyCpuMs)})`);
      }
      result.coldCpuMs.push(run.cpuMs - warmCpuMs - steadyCpuMs);
      result.warmCpuMs.push(warmCpuMs);
      result.steadyCpuMs.push(steadyCpuMs);
      log(`worker, warm process: first run ${(run.cpuMs - warmCpuMs - steadyCpuMs).toFixed(0)} ms CPU, the next ${warmCpuMs.toFixed(0)} ms, the third ${steadyCpuMs.toFixed(0)} ms`);
    } finally {
      for (const { bucket, table } of names) await backend.drop(bucket, table);
    }
  }
  return result;
}
