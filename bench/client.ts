/**
 * The benchmark's own fetchers, one per child process so every row of the comparison is
 * "a process that starts, fetches the mailbox, and exits", as mpop, fetchmail and getmail6
 * are. bench/run.ts bundles this file with esbuild (as the Lambda bundle is built) and
 * runs it as `node client.mjs '<json job>'`; it prints one JSON result line.
 *
 * Modes:
 * - reference: the pipelined ceiling (bench/reference-client.ts), no engine code.
 * - engine: our POP3 engine (openSession, UIDL + LIST, pipelined RETR), bytes discarded.
 * - engine-maildir: the same, each message written to a Maildir (tmp/ then rename to new/),
 *   as mpop and getmail6 deliver.
 * - worker: the worker end to end (runMailbox: lease, plan, fetch, S3 object, DynamoDB
 *   record, summary) against the local S3 and DynamoDB endpoints (s3rver and dynalite or
 *   DynamoDB Local, or the AWS latency model).
 * - rss-baseline / rss-discard / rss-s3: message 1 through the engine into a discarding
 *   Writable or the S3 sink, reporting the peak RSS (baseline: start-up only).
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { MailboxConfig } from '../lambda/config/mailbox-config';
import type { RunSummary } from '../lambda/sync/run-summary';
import type { MessageStream, Pop3Client } from '../lambda/pop3';
import { awsClients, s3Client } from './worker-aws';

export type ClientMode = 'reference' | 'engine' | 'engine-maildir' | 'worker' | 'rss-baseline' | 'rss-discard' | 'rss-s3';

export interface ClientJob {
  readonly mode: ClientMode;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly caFile: string;
  readonly maildir?: string;
  readonly s3Endpoint?: string;
  readonly dynamoEndpoint?: string;
  readonly bucket?: string;
  readonly table?: string;
  /** Worker: the SDK clients (made only if a request falls back to them) with cacheMiddleware, as the handler builds them. @default true */
  readonly cacheMiddleware?: boolean;
  /**
   * Worker: the S3 client keeps the SDK's default checksum settings, as the handler's does
   * (the latency model answers them; s3rver stores an aws-chunked body's framing as data).
   * @default false
   */
  readonly sdkDefaultChecksums?: boolean;
  /**
   * Worker: after the run, the same mailbox again into this other bucket and table, in the
   * same process (a warm Lambda instance's next run: modules loaded, hot code compiled).
   */
  readonly warmRun?: { readonly bucket: string; readonly table: string };
  /**
   * Worker, with warmRun: a third run after it, into this bucket and table. V8 is still
   * compiling during the second run (functions called once per message reach its thresholds
   * then); the third is the steady state.
   */
  readonly steadyRun?: { readonly bucket: string; readonly table: string };
}

export interface ClientResult {
  readonly mode: ClientMode;
  readonly messages: number;
  /** Message octets delivered (after unstuffing); for the reference, octets on the wire. */
  readonly octets: number;
  /** Time inside the process, from before connect to after QUIT (or the end of the run). */
  readonly ms: number;
  readonly vmHwmKb: number;
  readonly maxRssKb: number;
  readonly protocol?: string | null;
  readonly cipher?: string;
  readonly readUnits?: number;
  readonly writeUnits?: number;
  /** Worker with warmRun: messages of the second run, and its CPU (user + sys) in this process. */
  readonly warmMessages?: number;
  readonly warmCpuMs?: number;
  /** Worker with steadyRun: the same for the third run. */
  readonly steadyMessages?: number;
  readonly steadyCpuMs?: number;
}

/** Peak resident set size so far (VmHWM), in KiB. */
export function vmHwmKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

const MAX_MESSAGE_OCTETS = 256 * 1024 * 1024;

async function session(job: ClientJob): Promise<Pop3Client> {
  const { openSession } = await import('../lambda/pop3');
  return openSession({
    host: job.host,
    port: job.port,
    tls: 'implicit',
    tlsOptions: { ca: readFileSync(job.caFile), servername: 'localhost' },
    username: job.user,
    password: job.password,
    maxMessageOctets: MAX_MESSAGE_OCTETS,
  });
}

/**
 * What a mailbox fetcher does with the engine: UIDL + LIST, then every message in order,
 * RETRs pipelined ahead by the engine's own window. `deliver` consumes each stream.
 */
async function fetchWithEngine(job: ClientJob, deliver: (stream: MessageStream, n: number) => Promise<void>): Promise<Partial<ClientResult>> {
  const client = await session(job);
  try {
    const [listing] = await Promise.all([client.uidl(), client.list()]);
    const numbers = listing.entries.map((e) => e.number);
    const replies = numbers.map((n) => client.retr(n));
    let octets = 0;
    for (let i = 0; i < numbers.length; i++) {
      const stream = await replies[i]!;
      await deliver(stream, numbers[i]!);
      octets += stream.octets;
    }
    await client.quit();
    return { messages: numbers.length, octets, protocol: client.tls?.protocol ?? null, cipher: client.tls?.cipher ?? 'none' };
  } finally {
    client.close();
  }
}

/**
 * Reads a message to its end and drops the bytes. Plain 'data' events: stream.pipeline()
 * into a discarding Writable costs ~0.7 ms per message in Node 20 (an AbortController and
 * a DOMException per pipeline), more than the engine spends on a 10 KB message.
 */
function drain(stream: MessageStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.on('data', () => undefined);
    stream.once('end', resolve);
    stream.once('error', reject);
  });
}

/** Maildir delivery as mpop does it: write to tmp/, then rename into new/. */
function maildirDelivery(dir: string): (stream: MessageStream, n: number) => Promise<void> {
  const unique = `${Date.now()}.${process.pid}`;
  return async (stream, n) => {
    const name = `${unique}_${n}.bench`;
    const tmp = join(dir, 'tmp', name);
    await new Promise<void>((resolve, reject) => {
      const file = createWriteStream(tmp, { highWaterMark: 1024 * 1024 });
      file.once('finish', resolve);
      file.once('error', reject);
      stream.once('error', (err) => {
        file.destroy();
        reject(err);
      });
      stream.pipe(file);
    });
    await rename(tmp, join(dir, 'new', name));
  };
}

async function runWorker(job: ClientJob): Promise<Partial<ClientResult>> {
  const { randomUUID } = await import('node:crypto');
  const { DEFAULT_LIMITS } = await import('../lambda/config/mailbox-config');
  const { openSession } = await import('../lambda/pop3');
  const { DynamoDbStateStore } = await import('../lambda/state/dynamodb-state-store');
  const { S3MessageSink } = await import('../lambda/storage/s3-message-sink');
  const { runMailbox } = await import('../lambda/sync/run-mailbox');
  // As the Lambda handler builds them: direct requests, the SDK clients made only if one is needed.
  const aws = awsClients(job);
  const ca = readFileSync(job.caFile);
  const mailbox: MailboxConfig = {
    id: 'bench',
    host: job.host,
    port: job.port,
    tls: 'implicit',
    tlsCa: ca.toString('latin1'),
    tlsServername: 'localhost',
    username: job.user,
    auth: 'auto',
    password: { env: 'UNUSED' },
    allowPlaintextAuth: false,
    retention: 'keep',
    limits: DEFAULT_LIMITS,
    pipelining: true,
    schedule: 'rate(5 minutes)',
  };
  const run = async (bucket: string, table: string): Promise<RunSummary> => {
    const summary = await runMailbox(
      {
        state: new DynamoDbStateStore({ client: aws.dynamodb, tableName: table }),
        sink: new S3MessageSink({ client: aws.s3, bucket, directPutObject: aws.directPutObject }),
        openSession: (_m, signal) =>
          openSession({
            host: job.host,
            port: job.port,
            tls: 'implicit',
            tlsOptions: { ca, servername: 'localhost' },
            username: job.user,
            password: job.password,
            signal,
          }),
      },
      { mailbox, deadline: Date.now() + 15 * 60_000, safetyMarginMs: 10_000, owner: randomUUID() },
    );
    if (summary.status !== 'ok' || summary.errors.length > 0) throw new Error(`worker run failed: ${JSON.stringify(summary)}`);
    return summary;
  };
  try {
    const summary = await run(job.bucket!, job.table!);
    const result = { messages: summary.fetched, octets: summary.bytes, readUnits: summary.readUnits, writeUnits: summary.writeUnits };
    if (!job.warmRun) return result;
    const timed = async (to: { readonly bucket: string; readonly table: string }): Promise<{ messages: number; cpuMs: number }> => {
      const before = process.cpuUsage();
      const summary = await run(to.bucket, to.table);
      const used = process.cpuUsage(before);
      return { messages: summary.fetched, cpuMs: (used.user + used.system) / 1000 };
    };
    const warm = await timed(job.warmRun);
    const steady = job.steadyRun ? await timed(job.steadyRun) : undefined;
    return { ...result, warmMessages: warm.messages, warmCpuMs: warm.cpuMs, ...(steady ? { steadyMessages: steady.messages, steadyCpuMs: steady.cpuMs } : {}) };
  } finally {
    aws.destroy();
  }
}

/**
 * Message 1 of the mailbox, through the engine, into a discarding Writable or the S3 sink.
 * Every mode loads the same modules first, so `none` (the baseline) differs from the
 * others only by the fetch.
 */
async function runRss(job: ClientJob, into: 'none' | 'discard' | 's3'): Promise<Partial<ClientResult>> {
  const { randomUUID } = await import('node:crypto');
  const { S3MessageSink } = await import('../lambda/storage/s3-message-sink');
  await import('../lambda/pop3');
  if (into === 'none') return { messages: 0, octets: 0 };
  const s3 = into === 's3' ? await s3Client({ ...job, cacheMiddleware: false }) : undefined;
  const client = await session(job);
  try {
    const stream = await client.retr(1);
    let octets: number;
    if (s3) {
      const sink = new S3MessageSink({ client: s3, bucket: job.bucket!, directPutObject: true });
      const stored = await sink.store({ mailboxId: 'rss', identity: `m-${randomUUID()}`, uid: 'u1', body: stream, sizeHint: 0, firstSeenAt: new Date().toISOString() });
      octets = stored.size;
    } else {
      await drain(stream);
      octets = stream.octets;
    }
    await client.quit();
    return { messages: 1, octets };
  } finally {
    client.close();
    s3?.destroy();
  }
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '{}') as ClientJob;
  const started = performance.now();
  let result: Partial<ClientResult>;
  switch (job.mode) {
    case 'reference': {
      const { fetchReference } = await import('./reference-client');
      const r = await fetchReference({ host: job.host, port: job.port, user: job.user, password: job.password, ca: readFileSync(job.caFile) });
      result = { messages: r.messages, octets: r.wireOctets, protocol: r.protocol, cipher: r.cipher };
      break;
    }
    case 'engine':
      result = await fetchWithEngine(job, drain);
      break;
    case 'engine-maildir':
      result = await fetchWithEngine(job, maildirDelivery(job.maildir!));
      break;
    case 'worker':
      result = await runWorker(job);
      break;
    case 'rss-baseline':
      result = await runRss(job, 'none');
      break;
    case 'rss-discard':
      result = await runRss(job, 'discard');
      break;
    case 'rss-s3':
      result = await runRss(job, 's3');
      break;
    default:
      throw new Error(`unknown mode ${String(job.mode)}`);
  }
  const out: ClientResult = {
    mode: job.mode,
    messages: 0,
    octets: 0,
    ...result,
    ms: performance.now() - started,
    vmHwmKb: vmHwmKb(),
    maxRssKb: process.resourceUsage().maxRSS,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
