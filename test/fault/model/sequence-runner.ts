/**
 * Runs one sequence against the real worker: a fresh fake POP3 server with the
 * sequence's profiles, the worker bench (test/sync/harness.ts) on the shared s3rver and
 * DynamoDB Local with its own bucket and table, faulty SDK clients (aws-plan.ts), and the
 * fake's hooks for cut connections and lost QUIT answers. Invariants are checked after
 * every step and at every commit; the first step with a violation ends the sequence.
 * Then clean runs (faults off, the clock a day further each time) must finish the job.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteTableCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_LIMITS } from '../../../lambda/config/mailbox-config';
import { DynamoDbStateStore } from '../../../lambda/state/dynamodb-state-store';
import type { MessageRecord } from '../../../lambda/state/state-store';
import type { RunSummary } from '../../../lambda/sync/run-summary';
import type { LocalDynamo, LocalS3 } from '../../fixtures/aws-local';
import type { FakeEventBridge } from '../../fixtures/fake-eventbridge';
import type { EventPublisher } from '../../../lambda/events/event-publisher';
import { eventIdFor, type MailStoredDetail } from '../../../lambda/events/mail-stored-detail';
import { DynamoDbOutboxStore } from '../../../lambda/state/dynamodb-outbox-store';
import { startFakePop3, type FakeCommand, type FakeCommitEvent, type FakeMailRecord, type FakePop3Server, type FakeSession } from '../../fixtures/fake-pop3-server';
import { multilineWire } from '../../fixtures/fake-pop3-wire';
import { SimulatedCrash, WorkerBench } from '../../sync/harness';
import { workerClients } from '../aws-faults';
import { AwsPlan, sha256 as sha256Of, type AwsFault } from './aws-plan';
import { describeStep, duration } from './format';
import { checkCommit, checkFinal, checkSafety, mayBeIncomplete, type WorldView } from './invariants';
import { classify } from './known-issues';
import { mailBytes } from './mail';
import { buildProfiles, uidFor } from './profiles';
import type { Fault, Sequence, Step, Violation } from './types';

export interface ModelWorld {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  /** Where Mail Stored events go, shared by all sequences (each refuses only its bucket's). */
  readonly bus: FakeEventBridge;
}

export interface SequenceStats {
  steps: number;
  runs: number;
  cleanRuns: number;
  busy: number;
  crashes: number;
  /** Faults that fired (a planned fault whose moment never came does not count), by kind. */
  faults: Record<string, number>;
  delivered: number;
  stored: number;
  skipped: number;
  deletedByUs: number;
  hiddenByGmail: number;
  takenByOtherClient: number;
}

export interface SequenceOutcome {
  readonly sequence: Sequence;
  readonly violations: Violation[];
  /** Violations that match a known worker bug (model/known-issues.ts), when those are tolerated. */
  readonly tolerated: Violation[];
  readonly stats: SequenceStats;
  /** One line per step and run: what happened. */
  readonly trace: string[];
  readonly durationMs: number;
}

/**
 * Clean runs allowed to finish the job, each a day later (deleteAfterDays: 1 falls due):
 * this many, plus MAX_INCOMPLETE_ATTEMPTS (3) for every message the worker may refuse as
 * incomplete (each may end its session, so they may be given up one by one), plus one per
 * message on the server (progress of one message per run is slow, but progress).
 */
export const CLEAN_RUNS = 4;
const RUNS_PER_AMBIGUOUS_MESSAGE = 3;
const CLEAN_RUN_ADVANCE_MS = 26 * 3_600_000;
/** Engine timeouts: nothing here stalls, so these only bound a run on a badly overloaded machine. */
const POP3_TIMEOUT_MS = 10_000;
const QUIESCE_MS = 3_000;
const MAILBOX_ID = 'box-1';

/** Thrown from onCommit to keep a violating QUIT from taking effect (the violation is recorded). */
class CommitRefused extends Error {}

export interface RunOptions {
  /** Report violations that match a known worker bug as such instead of failing. */
  readonly tolerateKnownIssues: boolean;
}

export function runSequence(world: ModelWorld, sequence: Sequence, options: RunOptions): Promise<SequenceOutcome> {
  return new SequenceRun(world, sequence, options).execute();
}

interface ActiveRun {
  readonly cuts: Extract<Fault, { kind: 'cut' }>[];
  readonly lostQuits: Extract<Fault, { kind: 'lost-quit-ok' }>[];
  readonly verbs: Map<string, number>;
  quits: number;
}

class SequenceRun {
  private readonly violations: Violation[] = [];
  private readonly tolerated: Violation[] = [];
  private readonly trace: string[] = [];
  private readonly stats: SequenceStats = {
    steps: 0, runs: 0, cleanRuns: 0, busy: 0, crashes: 0, faults: {}, delivered: 0, stored: 0, skipped: 0, deletedByUs: 0, hiddenByGmail: 0, takenByOtherClient: 0,
  };
  private readonly plan = new AwsPlan();
  private readonly flaky = { on: true };
  private readonly arrivals = new Map<number, FakeMailRecord>();
  private clockOffsetMs = 0;
  private active: ActiveRun | undefined;
  private where = 'set-up';
  // Set by setUp (tearDown copes with a set-up that failed halfway).
  private server!: FakePop3Server;
  private bench!: WorkerBench;
  private clients!: { s3: S3Client; dynamodb: DynamoDBClient };
  private records: MessageRecord[] = [];
  private readonly objects = new Map<string, Buffer>();
  private readonly etags = new Map<string, string>();
  private serverErrorsSeen = 0;
  private removeEventFault: () => void = () => undefined;
  private readonly started = Date.now();

  constructor(
    private readonly world: ModelWorld,
    private readonly sequence: Sequence,
    private readonly options: RunOptions,
  ) {}

  private readonly now = (): number => Date.now() + this.clockOffsetMs;

  async execute(): Promise<SequenceOutcome> {
    try {
      await this.setUp();
      for (const [i, step] of this.sequence.steps.entries()) {
        this.where = `step ${i + 1} (${describeStep(step)})`;
        await this.step(step);
        this.stats.steps++;
        this.check(this.where);
        if (this.violations.length > 0) break;
      }
      if (this.violations.length === 0) await this.finish();
    } finally {
      await this.tearDown();
    }
    this.tally();
    return { sequence: this.sequence, violations: this.violations, tolerated: this.tolerated, stats: this.stats, trace: this.trace, durationMs: Date.now() - this.started };
  }

  // ---- set-up -------------------------------------------------------------------------

  private async setUp(): Promise<void> {
    const { config } = this.sequence;
    this.server = await startFakePop3({
      profiles: buildProfiles(config, this.flaky),
      clock: this.now,
      onCommand: (cmd, session) => this.onCommand(cmd, session),
      onCommit: (event) => this.onCommit(event),
    });
    this.clients = workerClients({ s3Endpoint: this.world.s3.endpoint, dynamoEndpoint: this.world.dynamo.endpoint, maxAttempts: config.maxAttempts });
    this.plan.install(this.clients.s3, 's3');
    this.plan.install(this.clients.dynamodb, 'dynamodb');
    const pop3 = {
      host: '127.0.0.1',
      port: this.server.port,
      tls: 'none',
      allowPlaintextAuth: true,
      username: 'alice',
      password: 'secret',
      // Ride along into openSession's options (WorkerBench spreads `pop3` into them).
      idleTimeoutMs: POP3_TIMEOUT_MS,
      greetingTimeoutMs: POP3_TIMEOUT_MS,
      connectTimeoutMs: POP3_TIMEOUT_MS,
    } as Parameters<typeof WorkerBench.create>[0]['pop3'];
    this.bench = await WorkerBench.create({
      s3: { ...this.world.s3, s3: this.clients.s3 },
      dynamo: { ...this.world.dynamo, dynamodb: this.clients.dynamodb },
      pop3,
      mailbox: {
        id: MAILBOX_ID,
        retention: config.retention === 'after-days' ? { deleteAfterDays: 1 } : config.retention,
        pipelining: config.pipelining,
        limits: { ...DEFAULT_LIMITS, maxMessageBytes: config.maxMessageBytes },
        // What the configuration defaults to for pop.gmail.com (the fake listens on 127.0.0.1).
        ...(config.profiles.includes('gmail') ? { hidesRetrievedMail: true } : {}),
      },
      events: { bus: this.world.bus, wrapPublisher: (inner) => this.checkedPublisher(inner) },
    });
    this.refuseEvents();
  }

  /**
   * While the steps run (faults on), EventBridge refuses this sequence's events: all of
   * them, or those whose content hash starts low (about a third), or none, by seed; from
   * the content, not at random, so a replay and a shrunk sequence refuse the same ones.
   */
  private refuseEvents(): void {
    const { seed } = this.sequence.config;
    const bucket = this.bench.bucket;
    const some = (detail: Record<string, unknown>): boolean => String(detail.sha256 ?? '') < '5';
    this.removeEventFault = this.world.bus.addEntryFault((entry) => {
      if (entry.detail.bucket !== bucket || !this.flaky.on) return undefined;
      return seed % 3 === 0 || (seed % 3 === 1 && some(entry.detail)) ? 'InternalFailure' : undefined;
    });
  }

  /** `inner`, checking that every event it is asked to publish names a durably stored message. */
  private checkedPublisher(inner: EventPublisher): EventPublisher {
    return {
      publish: async (details) => {
        const stored = new Set((await this.bench.records()).filter((r) => r.status === 'stored').map((r) => `${r.objectKey}|${r.sha256}`));
        for (const d of details) if (!stored.has(`${d.key}|${d.sha256}`)) this.violation('event-before-record', `an event was published for ${d.key} (uidl ${d.uidl}) before its record was durable`);
        return inner.publish(details);
      },
    };
  }

  /** At least once, never for nothing, outbox empty once settled (see README, "Delivery"). */
  private async checkEvents(): Promise<void> {
    const events = this.world.bus.events.filter((e) => e.detail.bucket === this.bench.bucket).map((e) => e.detail as unknown as MailStoredDetail);
    const published = new Map(events.map((d) => [d.eventId, d]));
    const stored = this.records.filter((r) => r.status === 'stored');
    const idOf = (r: MessageRecord): string => eventIdFor({ mailbox: MAILBOX_ID, identity: r.identity, sha256: r.sha256! });
    const unannounced = stored.filter((r) => !published.has(idOf(r)));
    if (unannounced.length > 0) this.violation('event-missing', `stored message(s) without a Mail Stored event: ${JSON.stringify(unannounced.map((r) => r.identity))}`);
    const wanted = new Set(stored.map(idOf));
    for (const d of published.values()) {
      const object = this.objects.get(d.key);
      if (!wanted.has(d.eventId)) this.violation('event-for-nothing', `an event (${d.key}, uidl ${d.uidl}) names no stored record`);
      else if (object === undefined || sha256Of(object) !== d.sha256) this.violation('event-for-nothing', `the event of ${d.key} does not describe the object under its key`);
    }
    const left = await new DynamoDbOutboxStore({ client: this.world.dynamo.dynamodb, tableName: this.bench.table }).list(MAILBOX_ID, 100);
    if (left.length > 0) this.violation('event-missing', `${left.length} outbox batch(es) left after the mailbox settled`);
  }

  private async tearDown(): Promise<void> {
    const server = this.server as FakePop3Server | undefined;
    const clients = this.clients as typeof this.clients | undefined;
    const bench = this.bench as WorkerBench | undefined;
    this.removeEventFault();
    await server?.close();
    clients?.s3.destroy();
    clients?.dynamodb.destroy();
    // Thousands of sequences: keep DynamoDB Local small (buckets are files, removed with s3rver's directory).
    if (bench) await this.world.dynamo.dynamodb.send(new DeleteTableCommand({ TableName: bench.table })).catch(() => undefined);
  }

  // ---- steps --------------------------------------------------------------------------

  private async step(step: Step): Promise<void> {
    switch (step.kind) {
      case 'arrive': {
        const bytes = mailBytes(step.mail);
        const uid = uidFor(step.uidFrom, bytes, this.server);
        const record = this.server.deliver(bytes, uid === undefined ? {} : { uid });
        this.arrivals.set(step.no, record);
        this.trace.push(`${this.where}: delivered as server message ${record.id}, uid ${record.uid}`);
        return;
      }
      case 'delete':
      case 'hide': {
        const record = this.arrivals.get(step.no);
        const done = record !== undefined && (step.kind === 'delete' ? this.server.deleteByOtherClient(record) : this.server.hideByOtherClient(record));
        this.trace.push(`${this.where}: ${done ? 'done' : 'nothing to do (gone already)'}`);
        return;
      }
      case 'clock':
        this.clockOffsetMs += step.advanceMs;
        return;
      case 'run':
        await this.run(step.advanceMs, step.faults);
    }
  }

  /** One worker run; returns its summary (undefined when it crashed or threw). */
  private async run(advanceMs: number, faults: readonly Fault[]): Promise<RunSummary | undefined> {
    this.clockOffsetMs += advanceMs;
    // DynamoDB's TTL, which DynamoDB Local lacks; before this run's faults are armed.
    await this.bench.sweepExpired(this.now());
    this.stats.runs++;
    const crash = faults.find((f): f is Extract<Fault, { kind: 'crash' }> => f.kind === 'crash')?.point;
    this.plan.startRun(faults.filter((f): f is AwsFault => f.kind === 'aws'));
    const firedBefore = this.plan.fired.length;
    this.active = {
      cuts: faults.filter((f): f is Extract<Fault, { kind: 'cut' }> => f.kind === 'cut'),
      lostQuits: faults.filter((f): f is Extract<Fault, { kind: 'lost-quit-ok' }> => f.kind === 'lost-quit-ok'),
      verbs: new Map(),
      quits: 0,
    };
    let result: RunSummary | SimulatedCrash | undefined;
    const runStarted = Date.now();
    try {
      result = await this.bench.run({ now: this.now, ...(crash ? { crash } : {}) });
    } catch (err) {
      this.violation('worker-threw', `runMailbox threw (operational failures belong in the summary): ${err instanceof Error ? err.stack : String(err)}`);
    } finally {
      this.plan.endRun();
      this.active = undefined;
    }
    for (const f of this.plan.fired.slice(firedBefore)) this.fired(f.split(':')[0]!);
    const runMs = Date.now() - runStarted;
    await this.quiesce();
    if (result instanceof SimulatedCrash) {
      this.stats.crashes++;
      this.fired(`crash-${crash!.at}`);
    }
    const summary = result instanceof SimulatedCrash ? undefined : result;
    if (summary?.status === 'busy') this.stats.busy++;
    const untyped = summary?.errors.filter((e) => e.code === 'INTERNAL') ?? [];
    if (untyped.length > 0) this.violation('untyped-error', `untyped errors in the run summary: ${JSON.stringify(untyped)}`);
    this.trace.push(`${this.where}: ${result instanceof SimulatedCrash ? result.message : summary ? label(summary) : 'threw'}; fired: [${this.plan.fired.slice(firedBefore).join(', ')}] (${runMs} ms)`);
    await this.refresh();
    return summary;
  }

  /** The clean runs, then the final invariants. */
  private async finish(): Promise<void> {
    this.flaky.on = false;
    let settled = false;
    let last = '';
    const visible = this.server.truth.visible();
    const ambiguous = visible.filter((r) => mayBeIncomplete(r, this.sequence.config)).length;
    // Copies of one message (same bytes, same UIDL) are deleted one per run under deleteAfterDays,
    // and messages sharing a UIDL may be settled one per run: one more run per message at most.
    const allowed = CLEAN_RUNS + RUNS_PER_AMBIGUOUS_MESSAGE * ambiguous + visible.length;
    for (let k = 1; k <= allowed && !settled; k++) {
      this.where = `clean run ${k} (+${duration(CLEAN_RUN_ADVANCE_MS)})`;
      const left = this.server.truth.left().length;
      const summary = await this.run(CLEAN_RUN_ADVANCE_MS, []);
      this.stats.cleanRuns++;
      this.check(this.where);
      if (this.violations.length > 0) return;
      // Quiet, and it changed nothing on the server (a QUIT that hid mail stored earlier is not in the summary).
      settled = summary !== undefined && isQuiet(summary) && this.server.truth.left().length === left;
      last = summary ? label(summary) : 'no summary';
    }
    if (!settled) this.violation('not-settled', `the mailbox did not settle within ${allowed} clean runs; the last one: ${last}`);
    this.where = 'final';
    this.report(checkFinal(this.view(), this.sequence.config, 'after the clean runs'));
    await this.checkEvents();
  }

  // ---- fake server hooks ----------------------------------------------------------------

  private async onCommand(cmd: FakeCommand, session: FakeSession): Promise<boolean> {
    const a = this.active;
    if (!a) return false;
    const n = (a.verbs.get(cmd.verb) ?? 0) + 1;
    a.verbs.set(cmd.verb, n);
    const cut = a.cuts.find((c) => c.verb === cmd.verb && c.nth === n);
    if (!cut) return false;
    this.fired(`cut-${cut.verb}${cut.partial !== undefined ? '-partial' : ''}`);
    const message = cut.partial !== undefined ? session.mailbox[Number(cmd.args[0]) - 1] : undefined;
    if (cut.partial !== undefined && message) {
      const wire = multilineWire(message.bytes, this.sequence.config.profiles.includes('bare-lf') ? 'crlf' : 'lf');
      await session.write(`+OK ${message.bytes.length} octets\r\n`);
      // Never the terminator: the message is cut short.
      await session.write(wire.subarray(0, Math.min(cut.partial, wire.length - 3)));
    }
    session.destroy();
    return true;
  }

  private onCommit(event: FakeCommitEvent): void {
    if (this.report(checkCommit(event, this.plan, this.where)) > 0) throw new CommitRefused('model: refused a commit that would lose mail');
    const a = this.active;
    if (event.cause !== 'quit' || !a) return;
    a.quits++;
    if (a.lostQuits.some((f) => f.nth === a.quits)) {
      this.fired('lost-quit-ok');
      event.connection?.destroy();
    }
  }

  // ---- observation ----------------------------------------------------------------------

  private async quiesce(): Promise<void> {
    const until = Date.now() + QUIESCE_MS;
    while (this.server.openSessions().length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 5));
  }

  /** Re-reads the bucket and the table (only runs change them), and resets the object mirror to the bucket. */
  private async refresh(): Promise<void> {
    const s3 = this.world.s3.s3;
    const seen = new Set<string>();
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: this.bench.bucket, ContinuationToken: token }));
      for (const o of page.Contents ?? []) {
        seen.add(o.Key!);
        if (this.etags.get(o.Key!) === o.ETag && this.objects.has(o.Key!)) continue;
        const got = await s3.send(new GetObjectCommand({ Bucket: this.bench.bucket, Key: o.Key! }));
        this.objects.set(o.Key!, Buffer.from(await got.Body!.transformToByteArray()));
        this.etags.set(o.Key!, o.ETag!);
      }
      token = page.NextContinuationToken;
    } while (token);
    for (const key of [...this.objects.keys()]) if (!seen.has(key)) this.objects.delete(key);
    this.plan.objects.clear();
    for (const [key, bytes] of this.objects) this.plan.objects.set(key, sha256Of(bytes));
    const state = new DynamoDbStateStore({ client: this.world.dynamo.dynamodb, tableName: this.bench.table });
    this.records = [];
    for await (const r of state.listRecords(MAILBOX_ID)) this.records.push(r);
  }

  private view(): WorldView {
    return { truth: this.server.truth.all(), objects: this.objects, records: this.records };
  }

  private check(at: string): void {
    this.report(checkSafety(this.view(), at));
    const errors = this.server.errors.slice(this.serverErrorsSeen).filter((e) => !(e instanceof CommitRefused));
    this.serverErrorsSeen = this.server.errors.length;
    for (const e of errors) this.violation('fake-server-error', `the fake POP3 server reported: ${e.stack ?? e.message}`);
  }

  private violation(invariant: Violation['invariant'], detail: string): void {
    this.report([{ invariant, at: this.where, detail }]);
  }

  /** Files violations, known worker bugs apart (once each); returns how many are not known. */
  private report(found: readonly Violation[]): number {
    let failing = 0;
    for (const v of found) {
      const issue = this.options.tolerateKnownIssues ? classify(v, this.view(), this.sequence.config) : undefined;
      if (issue === undefined) {
        this.violations.push(v);
        failing++;
      } else if (!this.tolerated.some((t) => t.invariant === v.invariant && t.detail === v.detail)) {
        this.tolerated.push({ ...v, knownIssue: issue });
      }
    }
    return failing;
  }

  private fired(kind: string): void {
    this.stats.faults[kind] = (this.stats.faults[kind] ?? 0) + 1;
  }

  private tally(): void {
    const truth = this.server.truth.all();
    const digests = new Set([...this.objects.values()].map(sha256Of));
    this.stats.delivered = truth.length;
    this.stats.stored = truth.filter((r) => digests.has(sha256Of(r.bytes))).length;
    this.stats.skipped = this.records.filter((r) => r.status === 'skipped').length;
    this.stats.deletedByUs = truth.filter((r) => r.removed?.by === 'pop3').length;
    this.stats.hiddenByGmail = truth.filter((r) => r.hidden?.by === 'gmail').length;
    this.stats.takenByOtherClient = truth.filter((r) => r.removed?.by === 'other-client' || r.hidden?.by === 'other-client').length;
  }
}

/** A run that found nothing to do and nothing wrong. */
function isQuiet(s: RunSummary): boolean {
  return s.status === 'ok' && s.complete && s.new === 0 && s.fetched === 0 && s.deleted === 0 && s.errors.length === 0 && s.eventsPublished === 0 && s.eventsFailed === 0;
}

function label(s: RunSummary): string {
  const errors = [...new Set(s.errors.map((e) => e.code))].join(',');
  return `${s.status} sessions=${s.sessions} new=${s.new} fetched=${s.fetched} skipped=${s.skipped} deleted=${s.deleted} complete=${s.complete}${s.fullDiff ? ' full-diff' : ''}${errors ? ` errors=${errors}` : ''}`;
}
