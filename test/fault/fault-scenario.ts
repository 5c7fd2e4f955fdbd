/**
 * Fault-injection scenarios: one mailbox on Dovecot, reached through the chaos proxy, is
 * ingested into s3rver + DynamoDB Local by repeated worker runs while connections are cut
 * and stalled, S3 and DynamoDB requests fail (before or after taking effect), and runs die
 * (the harness's crash switch in process, or SIGKILL of a worker process). Faulty runs are
 * bounded; then clean runs must finish the job. Invariants are checked after every run,
 * continuously during runs (the Maildir is polled), and at every DELE (plain text: the
 * proxy holds the command while it checks).
 *
 * Everything random comes from one seed; a failure report names it, and FAULT_SEED=<seed>
 * replays the scenario.
 */
import { QueryCommand, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { DEFAULT_LIMITS } from '../../lambda/config/mailbox-config';
import type { Pop3SessionOptions } from '../../lambda/pop3';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import type { MessageRecord } from '../../lambda/state/state-store';
import { MESSAGE_KEY_PREFIX, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE, ensureTable, mailboxKey } from '../../lambda/state/table-schema';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { eventIdFor, type MailStoredDetail } from '../../lambda/events/mail-stored-detail';
import type { EventPublisher } from '../../lambda/events/event-publisher';
import { DynamoDbOutboxStore } from '../../lambda/state/dynamodb-outbox-store';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakeEventBridge, type EntryFault, type FakeEventBridge } from '../fixtures/fake-eventbridge';
import { dovecotWireForm, startDovecot, type DovecotInstance } from '../fixtures/dovecot';
import { SimulatedCrash, WorkerBench, type CrashPoint } from '../sync/harness';
import { AwsFaults, workerClients, type InjectedFault } from './aws-faults';
import { ChaosProxy, type ConnectionPlan, type DeleEvent } from './chaos-proxy';
import { Prng } from './prng';
import type { WorkerProcessConfig } from './worker-process';

const MAILBOX_ID = 'box-1';
/**
 * Each run's clock is this much later than the previous one's: past any lease a dead run
 * left. Clean runs jump further, so that with deleteAfterDays (1 day here) everything is due.
 */
const FAULTY_RUN_CLOCK_STEP_MS = 8 * 3_600_000;
const CLEAN_RUN_CLOCK_STEP_MS = 2 * 86_400_000;
/** A run's deadline (real time); its lease lasts this plus LEASE_SLACK_MS. */
const RUN_MS = 60_000;
const SAFETY_MARGIN_MS = 5_000;
/** Short engine timeouts in faulty runs, so injected stalls end quickly. */
const IDLE_TIMEOUT_MS = 1_500;
/**
 * A clean run injects no stall: its timeouts are generous, so a loaded machine (a 1.5 s
 * pause of this process under a parallel suite) is not taken for a fault of the worker.
 */
const CLEAN_RUN_IDLE_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 3_000;
/** A worker process that outlives its deadline by this much is hung. */
const HUNG_AFTER_MS = RUN_MS + 30_000;
/** As the handler configures it (directPutObject), with small thresholds so multipart uploads happen. */
const SINK = { singlePartMaxOctets: 256 * 1024, partSizeOctets: 5 * 1024 * 1024, directPutObject: true };
/** As the handler configures it (every DynamoDB request direct, the SDK behind). */
const STATE = { direct: true };
/** A "big" message: over one part, so it goes up as a real multipart upload. */
const BIG_MESSAGE_OCTETS = 5 * 1024 * 1024 + 300 * 1024;
const MAILDIR_POLL_MS = 150;
const WORKER_SCRIPT = fileURLToPath(new URL('./worker-process.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

// ---------------------------------------------------------------------------------------
// The world: Dovecot, s3rver, DynamoDB Local, shared by the scenarios of one test file

export interface FaultWorld {
  readonly dovecot: DovecotInstance;
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  /** Where Mail Stored events go (PutEvents), for every scenario. */
  readonly bus: FakeEventBridge;
  /** The PutEvents faults of one scenario (its bucket); undefined: none. */
  setEventFaults(bucket: string, fault: EntryFault | undefined): void;
  /** A fresh Dovecot user (own Maildir) for one scenario. */
  takeUser(): { name: string; password: string };
  stop(): Promise<void>;
}

export async function startFaultWorld(users: number): Promise<FaultWorld> {
  const accounts = Array.from({ length: users }, (_, i) => ({ name: `f${i}`, password: `pw-f${i}` }));
  const [dovecot, s3, dynamo, bus] = await Promise.all([startDovecot({ users: accounts, oauth: false }), startS3rver(), startDynamoDbLocal(), startFakeEventBridge()]);
  const eventFaults = new Map<string, EntryFault>();
  bus.addEntryFault((entry) => eventFaults.get(String(entry.detail.bucket))?.(entry));
  let next = 0;
  return {
    dovecot,
    s3,
    dynamo,
    bus,
    setEventFaults: (bucket, fault) => (fault ? eventFaults.set(bucket, fault) : eventFaults.delete(bucket)),
    takeUser: () => {
      const account = accounts[next++];
      if (!account) throw new Error(`fault world: all ${users} Dovecot users are taken`);
      return account;
    },
    stop: async () => {
      await Promise.all([dovecot.stop(), s3.stop(), dynamo.stop(), bus.close()]);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Scenario

export interface ScenarioConfig {
  readonly seed: number;
  readonly messages: number;
  /** Include one message over a part size (a real multipart upload). */
  readonly big: boolean;
  /** `child`: runs in a worker process that may be SIGKILLed; `in-process`: the harness's crash switch. */
  readonly mode: 'in-process' | 'child';
  /** `none`: plain text, so the proxy can watch every DELE; `starttls`: TLS passes the proxy opaquely. */
  readonly tls: 'starttls' | 'none';
  /** `after-days`: retention { deleteAfterDays: 1 } (the pending-delete index path). */
  readonly retention: 'keep' | 'delete' | 'after-days';
  /** Runs with faults; then at most `cleanRuns` runs without faults must finish the job. */
  readonly faultyRuns: number;
  readonly cleanRuns: number;
  /** Faulty runs stop early once the scenario took this long. */
  readonly timeBudgetMs: number;
}

export interface RunRecord {
  readonly run: number;
  readonly faulty: boolean;
  readonly awsFaultRate: number;
  readonly death: string | undefined;
  readonly outcome: string;
  readonly ms: number;
  readonly connections: string[];
}

export interface ScenarioReport {
  readonly config: ScenarioConfig;
  readonly violations: string[];
  readonly runs: RunRecord[];
  readonly converged: boolean;
  readonly stats: {
    connections: Record<string, number>;
    awsFaults: Record<string, number>;
    deaths: number;
    deles: number;
    orphanedUploads: number;
    allowedOrphans: number;
    objects: number;
    /** Mail Stored events received (repeats included) and distinct eventIds. */
    events: { events: number; distinct: number };
  };
  readonly durationMs: number;
}

/** One line for the logs: what was injected and what came of it. */
export function describeReport(r: ScenarioReport): string {
  const c = r.config;
  return [
    `seed=${c.seed} mode=${c.mode} tls=${c.tls} retention=${c.retention} messages=${c.messages}${c.big ? '+big' : ''}`,
    `runs=${r.runs.length} converged=${r.converged} ms=${r.durationMs}`,
    `deaths=${r.stats.deaths} deles=${r.stats.deles} orphans=${r.stats.orphanedUploads}/${r.stats.allowedOrphans} events=${r.stats.events.events}/${r.stats.events.distinct}`,
    `connections=${JSON.stringify(r.stats.connections)} aws=${JSON.stringify(r.stats.awsFaults)}`,
  ].join(' ');
}

export async function runScenario(world: FaultWorld, config: ScenarioConfig): Promise<ScenarioReport> {
  return new Scenario(world, config).run();
}

interface StoredObject {
  readonly sha256: string;
  readonly size: number;
}

class Scenario {
  private readonly prng: Prng;
  private readonly violations: string[] = [];
  private readonly runs: RunRecord[] = [];
  private readonly user: { name: string; password: string };
  private readonly sent: Buffer[] = [];
  /** sha256 of each message as Dovecot delivers it -> its index. */
  private readonly expected = new Map<string, number>();
  /** Maildir file name of each delivered message (undefined: not delivered yet). */
  private readonly maildirNames: (string | undefined)[] = [];
  /** The run before which each message is delivered. */
  private arrivals: number[] = [];
  private readonly verifiedGone = new Set<number>();
  private bucket: string;
  private table: string;
  private state: DynamoDbStateStore;
  private readonly awsFaultLog: InjectedFault[] = [];
  private deaths = 0;
  private allowedOrphans = 0;
  /** Events published for the scenario's bucket (with repeats) and distinct eventIds: for the report. */
  private eventsSent = { events: 0, distinct: 0 };
  private faultsOn = false;
  private estimatedDown = 0;
  private estimatedUp = 0;
  /** The current run's clock, ahead of real time. */
  private clockOffsetMs = 0;
  /** How long a worker process usually runs (ready -> exit), for kill times. */
  private childRunMs = 1_500;
  private proxy!: ChaosProxy;
  private readonly started = Date.now();
  private readonly objectCache = new Map<string, StoredObject>();

  constructor(
    readonly world: FaultWorld,
    readonly config: ScenarioConfig,
  ) {
    this.prng = new Prng(config.seed);
    this.user = world.takeUser();
    const tag = `${config.seed.toString(36)}-${this.user.name}`;
    this.bucket = `fault-${tag}`.toLowerCase();
    this.table = `fault-${tag}`;
    this.state = new DynamoDbStateStore({ client: world.dynamo.dynamodb, tableName: this.table });
  }

  private violation(what: string): void {
    this.violations.push(`[after ${this.runs.length} run(s)] ${what}`);
  }

  async run(): Promise<ScenarioReport> {
    await this.prepareMailbox();
    const planPrng = this.prng.fork('proxy');
    this.proxy = await ChaosProxy.start({
      target: { host: '127.0.0.1', port: this.world.dovecot.port },
      plan: () => this.connectionPlan(planPrng),
      prng: this.prng.fork('fragments'),
      observe: this.config.tls === 'none',
      onDele: (e) => this.auditDele(e),
    });
    let converged = false;
    let bench: InProcessBench | undefined;
    try {
      if (this.config.mode === 'in-process') bench = await InProcessBench.create(this);
      else await this.createBucketAndTable();
      // Faulty runs (all of them: a quiet mailbox gets new mail between runs), then clean
      // runs until one finds nothing to do.
      let run = 0;
      for (; run < this.config.faultyRuns && Date.now() - this.started < this.config.timeBudgetMs; ) {
        await this.deliverArrivals(++run);
        await this.oneRun(run, true, bench);
        await this.checkpoint(`after run ${run}`);
      }
      await this.deliverArrivals(Number.POSITIVE_INFINITY);
      for (let clean = 0; clean < this.config.cleanRuns && !converged; clean++) {
        const summary = await this.oneRun(++run, false, bench);
        await this.checkpoint(`after run ${run}`);
        converged = summary !== undefined && isQuiet(summary);
      }
      if (!converged) this.violation(`the mailbox did not settle within ${this.runs.length} runs (${this.config.cleanRuns} allowed without faults)`);
      else await this.finalChecks();
    } finally {
      await bench?.destroy();
      await this.proxy.close();
    }
    return this.report(converged);
  }

  // ---- set-up -----------------------------------------------------------------------

  private async prepareMailbox(): Promise<void> {
    const p = this.prng.fork('messages');
    for (let i = 0; i < this.config.messages; i++) this.sent.push(makeMessage(p, this.config.seed, i));
    if (this.config.big) {
      const at = p.int(0, this.sent.length);
      this.sent.splice(at, 0, makeMessage(p, this.config.seed, this.config.messages, BIG_MESSAGE_OCTETS));
    }
    for (const [i, m] of this.sent.entries()) this.expected.set(sha256(dovecotWireForm(m)), i);
    if (this.expected.size !== this.sent.length) throw new Error('fault scenario: generated messages are not distinct');
    // Some mail is there from the start; the rest arrives before random faulty runs.
    const initially = p.int(Math.ceil(this.sent.length / 2), this.sent.length);
    this.arrivals = this.sent.map((_, i) => (i < initially ? 1 : p.int(2, Math.max(2, this.config.faultyRuns))));
    await this.deliverArrivals(1);
    const p2 = this.sent.reduce((sum, m) => sum + m.length, 0);
    this.estimatedDown = p2 + 3_000;
    this.estimatedUp = 200 + 25 * this.sent.length;
  }

  /** Delivers, in order, every message due by run `run` that is not delivered yet. */
  private async deliverArrivals(run: number): Promise<void> {
    const due = this.sent.map((_, i) => i).filter((i) => this.arrivals[i]! <= run && this.maildirNames[i] === undefined);
    if (due.length === 0) return;
    const names = await this.world.dovecot.deliver(this.user.name, due.map((i) => this.sent[i]!));
    due.forEach((i, k) => (this.maildirNames[i] = names[k]!));
  }

  private async createBucketAndTable(): Promise<void> {
    await this.world.s3.s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
    await ensureTable(this.world.dynamo.dynamodb, this.table);
  }

  get mailbox(): MailboxConfig {
    return {
      id: MAILBOX_ID,
      host: '127.0.0.1',
      port: this.proxy.port,
      tls: this.config.tls,
      username: this.user.name,
      auth: 'auto',
      password: { env: 'UNUSED' },
      allowPlaintextAuth: this.config.tls === 'none',
      retention: this.config.retention === 'after-days' ? { deleteAfterDays: 1 } : this.config.retention,
      limits: DEFAULT_LIMITS,
      pipelining: this.prng.fork('pipelining').chance(0.7),
      schedule: 'rate(5 minutes)',
    };
  }

  /** The session options of a run; `faulty` decides the engine timeouts. */
  pop3(faulty: boolean): Pop3SessionOptions {
    const idleMs = faulty ? IDLE_TIMEOUT_MS : CLEAN_RUN_IDLE_TIMEOUT_MS;
    return {
      host: '127.0.0.1',
      port: this.proxy.port,
      tls: this.config.tls,
      ...(this.config.tls === 'starttls' ? { tlsOptions: { ca: this.world.dovecot.ca } } : {}),
      username: this.user.name,
      password: this.user.password,
      allowPlaintextAuth: this.config.tls === 'none',
      idleTimeoutMs: idleMs,
      greetingTimeoutMs: idleMs,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
    };
  }

  /** In process, WorkerBench names the bucket and table. */
  useNames(names: { bucket: string; table: string }): void {
    this.bucket = names.bucket;
    this.table = names.table;
    this.state = new DynamoDbStateStore({ client: this.world.dynamo.dynamodb, tableName: this.table });
  }

  noteAwsFaults(faults: readonly InjectedFault[]): void {
    this.awsFaultLog.push(...faults);
    // Uploads the worker cannot clean up, in AWS as here (the bucket's lifecycle rule
    // removes them there): a failed abort; and a CreateMultipartUpload whose response was
    // lost, so the client never learned the UploadId it would need to abort.
    this.allowedOrphans += faults.filter((f) => f.operation === 'AbortMultipartUpload' || (f.operation === 'CreateMultipartUpload' && f.when === 'after')).length;
  }

  // ---- one run ----------------------------------------------------------------------

  private connectionPlan(prng: Prng): ConnectionPlan {
    if (!this.faultsOn) return { kind: 'pass' };
    const tlsOverhead = this.config.tls === 'starttls' ? 4_000 : 0;
    const down = (): number => (prng.chance(0.4) ? prng.int(0, 1_500 + tlsOverhead) : prng.int(0, this.estimatedDown + tlsOverhead));
    const up = (): number => prng.int(0, this.estimatedUp + tlsOverhead / 4);
    return prng.weighted<() => ConnectionPlan>([
      [40, () => ({ kind: 'pass' })],
      [8, () => ({ kind: 'fragment', maxChunk: prng.pick([1, 7, 100, 1500]), forBytes: prng.int(500, 40_000) })],
      [18, () => ({ kind: 'cut', direction: 'down', afterBytes: down(), reset: prng.chance(0.3) })],
      [12, () => ({ kind: 'cut', direction: 'up', afterBytes: up(), reset: prng.chance(0.3) })],
      [12, () => ({ kind: 'stall', direction: 'down', afterBytes: down() })],
      [8, () => ({ kind: 'stall', direction: 'up', afterBytes: up() })],
    ])();
  }

  private async oneRun(run: number, faulty: boolean, bench: InProcessBench | undefined): Promise<RunSummary | undefined> {
    const p = this.prng.fork(`run-${run}`);
    this.faultsOn = faulty;
    const awsFaultRate = faulty ? p.pick([0, 0.02, 0.05, 0.1]) : 0;
    this.clockOffsetMs += faulty ? FAULTY_RUN_CLOCK_STEP_MS : CLEAN_RUN_CLOCK_STEP_MS;
    const clockOffsetMs = this.clockOffsetMs;
    const firstConnection = this.proxy.connections.length;
    const started = Date.now();
    const poller = this.pollMaildir();
    this.world.setEventFaults(this.bucket, faulty ? eventFault(this.prng.fork(`events-${run}`)) : undefined);
    let outcome: { summary: RunSummary | undefined; death: string | undefined; label: string };
    try {
      outcome = bench
        ? await bench.run(p, { faulty, awsFaultRate, clockOffsetMs })
        : await this.childRun(p, { faulty, awsFaultRate, clockOffsetMs, run });
    } finally {
      await poller.stop();
      this.world.setEventFaults(this.bucket, undefined);
    }
    if (outcome.death) this.deaths++;
    // Learn the size of a whole session, so cut offsets cover all of it.
    for (const c of this.proxy.connections.slice(firstConnection)) {
      if (c.plan.kind === 'pass' && c.outcome === 'client-closed') {
        this.estimatedDown = Math.max(this.estimatedDown, c.down);
        this.estimatedUp = Math.max(this.estimatedUp, c.up);
      }
    }
    const s = outcome.summary;
    if (s) {
      const untyped = s.errors.filter((e) => e.code === 'INTERNAL');
      if (untyped.length > 0) this.violation(`untyped errors in the run summary: ${JSON.stringify(untyped)}`);
      if (!faulty && s.errors.length > 0) this.violation(`a run without faults reported errors: ${JSON.stringify(s.errors)}`);
    }
    this.runs.push({
      run,
      faulty,
      awsFaultRate,
      death: outcome.death,
      outcome: outcome.label,
      ms: Date.now() - started,
      connections: this.proxy.connections.slice(firstConnection).map((c) => `${planLabel(c.plan)}:${c.outcome}:${c.down}/${c.up}`),
    });
    // A dead run's connections close with it; nothing may stay open after a run.
    await waitFor(() => this.proxy.open === 0, 5_000);
    if (this.proxy.open > 0) this.violation(`${this.proxy.open} proxied connection(s) still open after the run`);
    return outcome.death ? undefined : s;
  }

  private async childRun(p: Prng, o: { faulty: boolean; awsFaultRate: number; clockOffsetMs: number; run: number }): Promise<{ summary: RunSummary | undefined; death: string | undefined; label: string }> {
    const config: WorkerProcessConfig = {
      s3Endpoint: this.world.s3.endpoint,
      dynamoEndpoint: this.world.dynamo.endpoint,
      eventsEndpoint: this.world.bus.endpoint,
      bucket: this.bucket,
      table: this.table,
      mailbox: this.mailbox,
      pop3: { ...withoutTlsOptions(this.pop3(o.faulty)), ...(this.config.tls === 'starttls' ? { ca: this.world.dovecot.ca.toString('utf8') } : {}) },
      clockOffsetMs: o.clockOffsetMs,
      runMs: RUN_MS,
      safetyMarginMs: SAFETY_MARGIN_MS,
      maxAttempts: { s3: p.int(1, 3), dynamodb: p.int(1, 3) },
      sink: SINK,
      state: STATE,
      ...(o.faulty && o.awsFaultRate > 0 ? { faults: { seed: p.uint32(), rate: o.awsFaultRate, afterShare: 0.5 } } : {}),
    };
    // Kill: at a random time within a run's usual length (learnt from runs that ended by
    // themselves), or just after the k-th message was stored and recorded.
    const kill = o.faulty && p.chance(0.6) ? (p.chance(0.5) ? { afterMs: p.int(0, this.childRunMs) } : { afterStored: p.int(1, Math.min(4, this.sent.length)), delayMs: p.int(0, 40) }) : undefined;
    const result = await runWorkerProcess(config, kill);
    if (!result.killed && result.runMs !== undefined) this.childRunMs = Math.max(300, Math.round((this.childRunMs + result.runMs) / 2));
    this.noteAwsFaults(result.faults);
    if (result.crash) this.violation(`the worker process threw: ${result.crash}`);
    if (result.hung) this.violation(`the worker process did not finish within ${HUNG_AFTER_MS} ms`);
    if (result.killed) {
      this.allowedOrphans++;
      return { summary: undefined, death: `SIGKILL ${JSON.stringify(kill)} after ${result.storedBeforeKill} stored`, label: 'killed' };
    }
    if (!result.summary) {
      this.violation(`the worker process ended without a summary (exit ${result.exitCode}); stderr: ${result.stderr.slice(-2_000)}`);
      return { summary: undefined, death: undefined, label: 'no summary' };
    }
    return { summary: result.summary, death: undefined, label: summaryLabel(result.summary) };
  }

  // ---- invariants -------------------------------------------------------------------

  private async objects(): Promise<Map<string, StoredObject>> {
    const s3 = this.world.s3.s3;
    const out = new Map<string, StoredObject>();
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: this.bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        const cacheKey = `${o.Key}|${o.ETag}|${o.Size}`;
        let stored = this.objectCache.get(cacheKey);
        if (!stored) {
          const body = await getObject(s3, this.bucket, o.Key!);
          stored = { sha256: sha256(body), size: body.length };
          this.objectCache.set(cacheKey, stored);
        }
        out.set(o.Key!, stored);
      }
      token = page.NextContinuationToken;
    } while (token);
    return out;
  }

  private async records(): Promise<MessageRecord[]> {
    const out: MessageRecord[] = [];
    for await (const r of this.state.listRecords(MAILBOX_ID)) out.push(r);
    return out;
  }

  /** Indices of the messages whose files are still in the Maildir. */
  private async onServer(): Promise<Set<number>> {
    const maildir = join(this.world.dovecot.dir, 'mail', this.user.name, 'Maildir');
    const present = new Set<string>();
    for (const sub of ['new', 'cur']) {
      for (const name of await readdir(join(maildir, sub))) present.add(name.split(':')[0]!);
    }
    const out = new Set<number>();
    this.maildirNames.forEach((name, i) => {
      if (name !== undefined && present.has(name)) out.add(i);
    });
    return out;
  }

  /** Messages gone from the server must be in S3, intact, and recorded. */
  private async checkGone(present: ReadonlySet<number>, when: string): Promise<void> {
    const gone = this.sent.map((_, i) => i).filter((i) => this.maildirNames[i] !== undefined && !present.has(i) && !this.verifiedGone.has(i));
    if (gone.length === 0) return;
    const records = await this.records();
    const objects = await this.objects();
    for (const i of gone) {
      const sha = sha256(dovecotWireForm(this.sent[i]!));
      const record = records.find((r) => r.status === 'stored' && r.sha256 === sha);
      const object = record?.objectKey ? objects.get(record.objectKey) : undefined;
      if (!record) this.violation(`${when}: message ${i} left the server but no stored record has its sha256`);
      else if (!object || object.sha256 !== sha) this.violation(`${when}: message ${i} left the server but its object ${record.objectKey} is ${object ? 'different' : 'missing'}`);
      else this.verifiedGone.add(i);
    }
  }

  /** Polls the Maildir while a run goes on: a message may vanish only once stored and recorded. */
  private pollMaildir(): { stop(): Promise<void> } {
    let busy: Promise<void> = Promise.resolve();
    let stopped = false;
    const timer = setInterval(() => {
      if (stopped) return;
      busy = busy.then(async () => {
        if (!stopped) await this.checkGone(await this.onServer(), 'during the run');
      });
    }, MAILDIR_POLL_MS);
    return {
      stop: async () => {
        stopped = true;
        clearInterval(timer);
        await busy;
      },
    };
  }

  /** Plain text: the proxy holds each DELE until this returns. The message must be stored and recorded now. */
  private async auditDele(e: DeleEvent): Promise<void> {
    if (e.uid === undefined) {
      this.violation(`DELE ${e.number} on connection ${e.connection} for a message number the UIDL listing did not show`);
      return;
    }
    const record = (await this.state.getRecords(MAILBOX_ID, [e.uid])).get(e.uid);
    if (!record || record.status !== 'stored' || !record.objectKey || !record.sha256) {
      this.violation(`DELE ${e.number} (uid ${e.uid}) sent while its record is ${record ? `${record.status} without object` : 'missing'}`);
      return;
    }
    const body = await getObject(this.world.s3.s3, this.bucket, record.objectKey).catch(() => undefined);
    if (!body || sha256(body) !== record.sha256 || !this.expected.has(record.sha256)) {
      this.violation(`DELE ${e.number} (uid ${e.uid}) sent while its object ${record.objectKey} is ${body ? 'not the recorded message' : 'missing'}`);
    }
  }

  /** After every run: objects whole and unique, records consistent with the bucket, nothing lost. */
  private async checkpoint(when: string): Promise<void> {
    const objects = await this.objects();
    const owner = new Map<string, string>();
    for (const [key, o] of objects) {
      if (!this.expected.has(o.sha256)) this.violation(`${when}: object ${key} (${o.size} octets) is not any message that was sent: partial or corrupt`);
      const other = owner.get(o.sha256);
      if (other !== undefined) this.violation(`${when}: message ${this.expected.get(o.sha256)} is stored twice, under ${other} and ${key}`);
      owner.set(o.sha256, key);
    }
    for (const r of await this.records()) {
      if (r.status !== 'stored') {
        this.violation(`${when}: record ${r.identity} has status ${r.status}; nothing here should be skipped or baselined`);
        continue;
      }
      const o = r.objectKey ? objects.get(r.objectKey) : undefined;
      if (!o) this.violation(`${when}: record ${r.identity} names object ${r.objectKey}, which does not exist`);
      else if (o.sha256 !== r.sha256 || o.size !== r.size) this.violation(`${when}: record ${r.identity} does not match its object ${r.objectKey}`);
    }
    await this.checkGone(await this.onServer(), when);
  }

  /** The table's message items as stored (MessageRecord does not show expiresAt). */
  private async rawRecordItems(): Promise<Record<string, AttributeValue>[]> {
    const items: Record<string, AttributeValue>[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.world.dynamo.dynamodb.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :msg)',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY },
          ExpressionAttributeValues: { ':pk': { S: mailboxKey(MAILBOX_ID) }, ':msg': { S: MESSAGE_KEY_PREFIX } },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(page.Items ?? []));
      start = page.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private async orphanedUploads(): Promise<number> {
    const page = await this.world.s3.s3.send(new ListMultipartUploadsCommand({ Bucket: this.bucket }));
    return page.Uploads?.length ?? 0;
  }

  private async finalChecks(): Promise<void> {
    const objects = await this.objects();
    const wanted = [...this.expected.keys()].sort();
    const got = [...objects.values()].map((o) => o.sha256).sort();
    if (JSON.stringify(got) !== JSON.stringify(wanted)) {
      const missing = wanted.filter((w) => !got.includes(w)).map((w) => this.expected.get(w));
      this.violation(`final: the bucket holds ${got.length} objects for ${wanted.length} messages; missing messages ${JSON.stringify(missing)}`);
    }
    const records = await this.records();
    await this.eventChecks(records, objects);
    const recordedKeys = records.filter((r) => r.status === 'stored').map((r) => r.objectKey!).sort();
    if (JSON.stringify(recordedKeys) !== JSON.stringify([...objects.keys()].sort())) {
      this.violation(`final: stored records name ${recordedKeys.length} objects, the bucket holds ${objects.size}: state and bucket disagree`);
    }
    const present = await this.onServer();
    if (this.config.retention !== 'keep') {
      if (present.size > 0) this.violation(`final: ${present.size} message(s) still on the server with retention ${this.config.retention}: ${JSON.stringify([...present])}`);
      // Gone from the server, so each record is either marked deleted (a QUIT confirmed it)
      // or set to expire (the QUIT's answer was lost, e.g. the run died right after it; the
      // next full diff found the message gone). Neither lingers forever.
      const lingering = (await this.rawRecordItems()).filter((item) => !item.deletedAt && !item[TTL_ATTRIBUTE]).map((item) => item.identity?.S);
      if (lingering.length > 0) this.violation(`final: records of deleted messages neither marked deleted nor expiring: ${JSON.stringify(lingering)}`);
    } else if (present.size !== this.sent.length) {
      this.violation(`final: retention keep, yet ${this.sent.length - present.size} message(s) left the server`);
    }
    const orphans = await this.orphanedUploads();
    if (orphans > this.allowedOrphans) {
      this.violation(`final: ${orphans} multipart upload(s) left behind, only ${this.allowedOrphans} explained by a dead run or a failed abort`);
    }
  }

  private async report(converged: boolean): Promise<ScenarioReport> {
    const connections: Record<string, number> = {};
    for (const c of this.proxy.connections) connections[planLabel(c.plan)] = (connections[planLabel(c.plan)] ?? 0) + 1;
    const awsFaults: Record<string, number> = {};
    for (const f of this.awsFaultLog) awsFaults[`${f.operation}:${f.when}`] = (awsFaults[`${f.operation}:${f.when}`] ?? 0) + 1;
    return {
      config: this.config,
      violations: this.violations,
      runs: this.runs,
      converged,
      stats: {
        connections,
        awsFaults,
        deaths: this.deaths,
        deles: this.proxy.deles.length,
        orphanedUploads: await this.orphanedUploads().catch(() => -1),
        allowedOrphans: this.allowedOrphans,
        objects: (await this.objects().catch(() => new Map())).size,
        events: this.eventsSent,
      },
      durationMs: Date.now() - this.started,
    };
  }

  /** An in-process crash leaves the multipart uploads its dead S3 client had open. */
  noteCrash(crash: SimulatedCrash): void {
    this.allowedOrphans += crash.openUploads;
  }

  reportViolation(what: string): void {
    this.violation(what);
  }

  /** `inner`, checking that every event it is asked to publish names a durably stored message. */
  checkedPublisher(inner: EventPublisher): EventPublisher {
    return {
      publish: async (details) => {
        const stored = new Set((await this.records()).filter((r) => r.status === 'stored').map((r) => `${r.objectKey}|${r.sha256}`));
        for (const d of details) if (!stored.has(`${d.key}|${d.sha256}`)) this.violation(`an event was published for ${d.key} (uidl ${d.uidl}) before its record was durable`);
        return inner.publish(details);
      },
    };
  }

  /**
   * At least once, never for nothing: every stored record has had an event with its
   * eventId, made from the object now under its key; every event names a stored record;
   * and once the mailbox settled, the outbox is empty.
   */
  private async eventChecks(records: readonly MessageRecord[], objects: ReadonlyMap<string, StoredObject>): Promise<void> {
    const events = this.world.bus.events.filter((e) => e.detail.bucket === this.bucket).map((e) => e.detail as unknown as MailStoredDetail);
    const published = new Map(events.map((d) => [d.eventId, d]));
    const stored = records.filter((r) => r.status === 'stored');
    const wanted = new Set(stored.map((r) => eventIdFor({ mailbox: MAILBOX_ID, identity: r.identity, sha256: r.sha256! })));
    const unannounced = stored.filter((r) => !published.has(eventIdFor({ mailbox: MAILBOX_ID, identity: r.identity, sha256: r.sha256! })));
    if (unannounced.length > 0) this.violation(`final: ${unannounced.length} stored message(s) never had a Mail Stored event: ${JSON.stringify(unannounced.map((r) => r.uid))}`);
    for (const d of published.values()) {
      if (!wanted.has(d.eventId)) this.violation(`final: an event (${d.key}, uidl ${d.uidl}) names no stored record`);
      const object = objects.get(d.key);
      if (object === undefined || object.sha256 !== d.sha256 || object.size !== d.size) this.violation(`final: the event of ${d.key} does not describe the object under its key`);
    }
    const left = await new DynamoDbOutboxStore({ client: this.world.dynamo.dynamodb, tableName: this.table }).list(MAILBOX_ID, 100);
    if (left.length > 0) this.violation(`final: ${left.length} outbox batch(es) left after the mailbox settled: ${JSON.stringify(left.map((b) => b.identities))}`);
    this.eventsSent = { events: events.length, distinct: published.size };
  }

  get messageCount(): number {
    return this.sent.length;
  }

  get hasBig(): boolean {
    return this.config.big;
  }
}

// ---------------------------------------------------------------------------------------
// In-process runs: WorkerBench with faulty clients and the crash switch

class InProcessBench {
  private constructor(
    private readonly scenario: Scenario,
    private readonly bench: WorkerBench,
    private readonly faults: AwsFaults,
    private readonly clients: { s3: S3Client; dynamodb: { destroy(): void } },
    private readonly pop3: object,
  ) {}

  static async create(scenario: Scenario): Promise<InProcessBench> {
    const world = scenario.world;
    const p = new Prng(scenario.config.seed).fork('in-process');
    const clients = workerClients({ s3Endpoint: world.s3.endpoint, dynamoEndpoint: world.dynamo.endpoint, maxAttempts: { s3: p.int(1, 3), dynamodb: p.int(1, 3) } });
    const faults = new AwsFaults({ prng: p.fork('aws'), rate: 0 });
    faults.install(clients.s3, 's3');
    faults.install(clients.dynamodb, 'dynamodb');
    faults.enabled = false;
    // The engine timeouts ride along in `pop3`: WorkerBench spreads it into openSession's
    // options at every session, so run() sets this object's timeouts for each run.
    const pop3 = scenario.pop3(true) as Parameters<typeof WorkerBench.create>[0]['pop3'];
    const bench = await WorkerBench.create({
      s3: { ...world.s3, s3: clients.s3 },
      dynamo: { ...world.dynamo, dynamodb: clients.dynamodb },
      pop3,
      mailbox: scenario.mailbox,
      sink: SINK,
      state: STATE,
      events: { bus: world.bus, wrapPublisher: (inner) => scenario.checkedPublisher(inner) },
    });
    scenario.useNames({ bucket: bench.bucket, table: bench.table });
    return new InProcessBench(scenario, bench, faults, clients, pop3);
  }

  async run(p: Prng, o: { faulty: boolean; awsFaultRate: number; clockOffsetMs: number }): Promise<{ summary: RunSummary | undefined; death: string | undefined; label: string }> {
    const crash = o.faulty && p.chance(0.35) ? randomCrashPoint(p, this.scenario.messageCount, this.scenario.hasBig) : undefined;
    const { idleTimeoutMs, greetingTimeoutMs } = this.scenario.pop3(o.faulty);
    Object.assign(this.pop3, { idleTimeoutMs, greetingTimeoutMs });
    this.faults.rate = o.awsFaultRate;
    this.faults.enabled = o.faulty && o.awsFaultRate > 0;
    const before = this.faults.injected.length;
    const now = (): number => Date.now() + o.clockOffsetMs;
    let result: RunSummary | SimulatedCrash;
    try {
      result = await this.bench.run({ now, deadline: now() + RUN_MS, safetyMarginMs: SAFETY_MARGIN_MS, ...(crash ? { crash } : {}) });
    } catch (err) {
      this.scenario.reportViolation(`runMailbox threw (it must report operational failures in the summary): ${err instanceof Error ? err.stack : String(err)}`);
      return { summary: undefined, death: undefined, label: 'threw' };
    } finally {
      this.faults.enabled = false;
      this.scenario.noteAwsFaults(this.faults.injected.slice(before));
    }
    if (result instanceof SimulatedCrash) {
      this.scenario.noteCrash(result);
      return { summary: undefined, death: `crash ${JSON.stringify(crash)}`, label: 'crashed' };
    }
    return { summary: result, death: undefined, label: summaryLabel(result) };
  }

  async destroy(): Promise<void> {
    this.clients.s3.destroy();
    this.clients.dynamodb.destroy();
  }
}

function randomCrashPoint(p: Prng, messages: number, big: boolean): CrashPoint {
  const n = (): number => p.int(1, Math.max(1, Math.min(messages, 6)));
  return p.weighted<() => CrashPoint>([
    [3, () => ({ at: 'after-store', n: n() })],
    [3, () => ({ at: 'after-record', n: n() })],
    [3, () => ({ at: 'mid-retr', n: n(), afterOctets: p.int(1, 3_000) })],
    [2, () => ({ at: 'before-quit' })],
    [big ? 2 : 0, () => ({ at: 'mid-multipart' })],
  ])();
}

// ---------------------------------------------------------------------------------------
// Worker processes

interface WorkerProcessResult {
  summary: RunSummary | undefined;
  faults: InjectedFault[];
  killed: boolean;
  hung: boolean;
  crash: string | undefined;
  exitCode: number | null;
  storedBeforeKill: number;
  stderr: string;
  /** From "ready" to exit. */
  runMs: number | undefined;
}

type KillPlan = { afterMs: number } | { afterStored: number; delayMs: number };

/** Runs worker-process.ts; SIGKILLs it per `kill` (or when it hangs). */
export function runWorkerProcess(config: WorkerProcessConfig, kill?: KillPlan): Promise<WorkerProcessResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_SCRIPT, JSON.stringify(config)], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const result: WorkerProcessResult = { summary: undefined, faults: [], killed: false, hung: false, crash: undefined, exitCode: null, storedBeforeKill: 0, stderr: '', runMs: undefined };
    let readyAt: number | undefined;
    let stored = 0;
    let pending = '';
    const timers: NodeJS.Timeout[] = [];
    const killNow = (): void => {
      if (child.exitCode !== null || child.signalCode !== null || result.killed) return;
      result.killed = true;
      result.storedBeforeKill = stored;
      child.kill('SIGKILL');
    };
    timers.push(
      setTimeout(() => {
        result.hung = true;
        killNow();
      }, HUNG_AFTER_MS),
    );
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      for (let nl = pending.indexOf('\n'); nl !== -1; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        let event: { event?: string; summary?: RunSummary; faults?: InjectedFault[]; error?: string };
        try {
          event = JSON.parse(line) as typeof event;
        } catch {
          continue;
        }
        if (event.event === 'ready') readyAt = Date.now();
        if (event.event === 'ready' && kill && 'afterMs' in kill) timers.push(setTimeout(killNow, kill.afterMs));
        if (event.event === 'stored' && kill && 'afterStored' in kill && ++stored === kill.afterStored) timers.push(setTimeout(killNow, kill.delayMs));
        else if (event.event === 'stored' && !(kill && 'afterStored' in kill)) stored++;
        if (event.event === 'summary') {
          result.summary = event.summary;
          result.faults = event.faults ?? [];
        }
        if (event.event === 'crash') result.crash = event.error;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      result.stderr = (result.stderr + chunk.toString('utf8')).slice(-8_000);
    });
    child.once('close', (code) => {
      for (const t of timers) clearTimeout(t);
      result.exitCode = code;
      if (readyAt !== undefined) result.runMs = Date.now() - readyAt;
      // A kill that came after the summary was printed killed nothing that mattered.
      if (result.killed && result.summary) result.killed = false;
      resolve(result);
    });
  });
}

// ---------------------------------------------------------------------------------------
// Helpers

/** A run that found nothing to do and nothing wrong: the mailbox is settled. */
function isQuiet(s: RunSummary): boolean {
  return s.status === 'ok' && s.complete && s.new === 0 && s.fetched === 0 && s.deleted === 0 && s.errors.length === 0 && s.eventsPublished === 0 && s.eventsFailed === 0;
}

/**
 * PutEvents faults of one faulty run: EventBridge refusing everything for the whole run,
 * or some entries (throttled), or nothing.
 */
function eventFault(p: Prng): EntryFault | undefined {
  return p.weighted<() => EntryFault | undefined>([
    [3, () => () => 'InternalFailure'],
    [3, () => {
      const entries = p.fork('entries');
      return () => (entries.chance(0.2) ? 'ThrottlingException' : undefined);
    }],
    [4, () => undefined],
  ])();
}

function summaryLabel(s: RunSummary): string {
  const errors = [...new Set(s.errors.map((e) => e.code))].join(',');
  return `${s.status} new=${s.new} fetched=${s.fetched} deleted=${s.deleted} complete=${s.complete}${errors ? ` errors=${errors}` : ''}`;
}

function planLabel(plan: ConnectionPlan): string {
  return plan.kind === 'cut' || plan.kind === 'stall' ? `${plan.kind}-${plan.direction}${plan.kind === 'cut' && plan.reset ? '-rst' : ''}` : plan.kind;
}

function withoutTlsOptions(o: Pop3SessionOptions): Omit<Pop3SessionOptions, 'tlsOptions' | 'signal'> {
  const { tlsOptions: _t, signal: _s, ...rest } = o;
  return rest;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function getObject(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

async function waitFor(condition: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (!condition() && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
}

/**
 * A message with what trips POP3 clients: lines starting with dots (and a line that is
 * only "."), 8-bit bytes, bare LF (Dovecot delivers CRLF), long lines, no final line end.
 * Never starts with "." (Dovecot would not stuff it; see dovecotWireForm).
 */
function makeMessage(p: Prng, seed: number, i: number, size?: number): Buffer {
  const head = Buffer.from(`Message-ID: <f${seed}.${i}@fault.test>\r\nFrom: Zoë <z@example.com>\r\nSubject: fault ${i}\r\n\r\n`, 'utf8');
  const target = size ?? p.weighted([
    [6, p.int(0, 2_000)],
    [3, p.int(2_000, 40_000)],
    [1, p.int(40_000, 300_000)],
  ]);
  const lines: Buffer[] = [head];
  let length = head.length;
  while (length < target) {
    const line = p.weighted<() => Buffer>([
      [6, () => Buffer.from(`line ${length} ${'x'.repeat(p.int(0, 70))}\r\n`)],
      [1, () => Buffer.from('.\r\n')],
      [1, () => Buffer.from(`..dots ${length}\r\n`)],
      [1, () => Buffer.from(`.${'y'.repeat(p.int(0, 10))}\n`)],
      [1, () => Buffer.from([0xe9, 0xff, 0x00, 0x80, 0x0d, 0x0a])],
      [size ? 1 : 0.1, () => Buffer.alloc(p.int(1_000, 60_000), 0x61 + (length % 26))],
    ])();
    lines.push(line);
    length += line.length;
  }
  if (p.chance(0.2)) lines.push(Buffer.from('no final line end'));
  return Buffer.concat(lines);
}
