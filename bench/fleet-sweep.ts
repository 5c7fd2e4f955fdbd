/**
 * One sweep of the simulated fleet: the real dispatcher tick over the registry, then the
 * real worker handler fed by a local event source mapping (at most `maxConcurrency`
 * invocations at once, each in a warm "container" when one is idle, as Lambda does),
 * until every dispatched mailbox has reported its run. Measures what the sweep asked of
 * each service, what it wrote to stdout, and how long the handler ran.
 *
 * The dispatcher's clock: each sweep covers one whole 5-minute period that starts after
 * the previous sweep ended (its cursor is set there), so every `rate(5 minutes)` mailbox
 * has exactly one slot in it and no slot is older than its mailbox's last run. The tick is
 * told the time at the end of that period; the queue's clock runs faster (world option),
 * so the minute over which the dispatcher spreads the runs passes in seconds.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CURSOR_SORT_KEY, DISPATCH_PARTITION } from '../lambda/dispatch/dispatch-cursor';
import { runDispatchTick, type DispatchSummary } from '../lambda/dispatch/dispatch-tick';
import { packMessages } from '../lambda/dispatch/pack-messages';
import { sendMessages } from '../lambda/dispatch/send-messages';
import { handleQueueEvent } from '../lambda/handlers/fetch-mailbox';
import { createLogger } from '../lambda/observability/logger';
import type { BatchResponse, SqsEvent } from '../lambda/queue/queue-batch';
import { PARTITION_KEY, SORT_KEY } from '../lambda/state/table-schema';
import { runEventSource } from '../test/fixtures/sqs-event-source';
import { SIM_NAMESPACE, SIM_TABLE, WORKER_TIMEOUT_SECONDS, type Container, type FleetWorld } from './fleet-sim-world';
import type { LogTally, LogTallySnapshot, RunSeen } from './log-tally';
import { meterDelta, type MeterSnapshot } from './request-meter';

const PERIOD_MS = 5 * 60_000;
const MINUTE_MS = 60_000;
/** Idle pollers look again after this long (real ms). */
const POLL_IDLE_MS = 10;
const SQS_OPERATIONS = ['SendMessageBatch', 'SendMessage', 'ReceiveMessage', 'DeleteMessageBatch', 'DeleteMessage', 'ChangeMessageVisibility'] as const;

export interface SweepSettings {
  readonly maxConcurrency: number;
  readonly mailboxesPerMessage: number;
  readonly timeoutMs: number;
  readonly stalePeriods: number;
}

export interface SweepMeasure {
  readonly wallMs: number;
  readonly dispatchMs: number;
  readonly dispatched: number;
  readonly queueMessages: number;
  readonly runs: readonly RunSeen[];
  readonly invocations: number;
  readonly maxConcurrentInvocations: number;
  readonly containersStarted: number;
  /** Sum of the handler's wall time over all invocations (what Lambda bills). */
  readonly handlerMs: number;
  /** CPU time of this process (worker, dispatcher, and the in-process fakes: POP3, SQS, KMS). */
  readonly processCpuMs: number;
  readonly workerDynamo: MeterSnapshot;
  readonly dispatcherDynamo: MeterSnapshot;
  readonly workerS3: MeterSnapshot;
  readonly sqs: Readonly<Record<string, number>>;
  readonly kms: number;
  /** The worker's PutEvents requests and the events they carried (accepted ones). */
  readonly putEvents: { readonly requests: number; readonly events: number };
  readonly pop3Sessions: number;
  readonly pop3Commands: number;
  readonly logs: LogTallySnapshot;
  readonly tick?: Pick<DispatchSummary, 'messages' | 'requests'> & { readonly stale: number; readonly enabled: number };
}

/** Runs sweeps one after the other on one world, keeping the dispatcher's clock. */
export class SweepRunner {
  private coveredUntil = 0;
  private readonly idle: Container[] = [];
  private containers = 0;

  constructor(
    private readonly world: FleetWorld,
    private readonly tally: LogTally,
    private readonly settings: SweepSettings,
  ) {}

  /** Set-up: every mailbox gets a `baseline` run (what is on the server is recorded as seen). */
  async baseline(): Promise<SweepMeasure> {
    return this.sweep(async () => {
      const now = Date.now();
      const due = this.world.mailboxIds.map((id) => ({ id, host: '127.0.0.1', slotMs: now }));
      const messages = packMessages(due, now, this.settings.mailboxesPerMessage).map((m) => ({
        ...m,
        delaySeconds: 0,
        body: JSON.stringify({ action: 'baseline', mailboxIds: m.mailboxIds }),
      }));
      await sendMessages(this.world.sqsClient(), this.world.queue.url, messages);
      return { dispatched: due.length, messages: messages.length };
    });
  }

  /** One measured sweep: a dispatcher tick over one 5-minute period, then every run it queued. */
  async dispatched(): Promise<SweepMeasure> {
    let tick: SweepMeasure['tick'];
    const measure = await this.sweep(async () => {
      const from = Math.max(this.coveredUntil, Math.ceil(Date.now() / MINUTE_MS) * MINUTE_MS);
      await this.setCursor(from);
      const summary = await runDispatchTick(
        {
          dynamodb: this.world.dispatcherDynamo,
          table: SIM_TABLE,
          sqs: this.world.sqsClient(),
          queueUrl: this.world.queue.url,
          metricsNamespace: SIM_NAMESPACE,
          stalePeriods: this.settings.stalePeriods,
          mailboxesPerMessage: this.settings.mailboxesPerMessage,
          log: createLogger({ component: 'dispatcher' }, { write: this.tally.dispatcherLine }),
          write: this.tally.dispatcherLine,
        },
        from + PERIOD_MS - 1,
      );
      this.coveredUntil = summary.window.to;
      tick = { messages: summary.messages, requests: summary.requests, stale: summary.sweep?.stale ?? 0, enabled: summary.sweep?.enabled ?? 0 };
      return { dispatched: summary.sweep?.due.length ?? 0, messages: summary.messages };
    });
    return { ...measure, ...(tick === undefined ? {} : { tick }) };
  }

  /** The simulation's clock step: not the dispatcher's doing, so not metered. */
  private async setCursor(coveredUntil: number): Promise<void> {
    await this.world.admin.dynamodb.send(
      new PutItemCommand({
        TableName: SIM_TABLE,
        Item: { [PARTITION_KEY]: { S: DISPATCH_PARTITION }, [SORT_KEY]: { S: CURSOR_SORT_KEY }, coveredUntilMs: { N: String(coveredUntil) } },
      }),
    );
  }

  private async sweep(queueRuns: () => Promise<{ dispatched: number; messages: number }>): Promise<SweepMeasure> {
    const { world, tally } = this;
    const before = {
      workerDynamo: world.meters.workerDynamo.snapshot(),
      dispatcherDynamo: world.meters.dispatcherDynamo.snapshot(),
      workerS3: world.meters.workerS3.snapshot(),
      sqs: Object.fromEntries(SQS_OPERATIONS.map((op) => [op, world.sqs.calls(op)])),
      kms: world.kms.calls(),
      putEvents: { requests: world.events.calls(), events: world.events.events.length },
      pop3: world.pop3.sessions,
      pop3Commands: world.pop3Commands(),
      containers: this.containers,
      cpu: process.cpuUsage(),
    };
    tally.reset();
    const started = performance.now();
    const queued = await queueRuns();
    const dispatchMs = performance.now() - started;

    const reported = new Set<string>();
    let lastRunAt = started;
    tally.onRun = (run) => {
      reported.add(run.mailbox);
      lastRunAt = performance.now();
    };
    let handlerMs = 0;
    const handler = async (event: SqsEvent): Promise<BatchResponse> => {
      const container = this.idle.pop() ?? this.start();
      const t0 = performance.now();
      const deadline = Date.now() + WORKER_TIMEOUT_SECONDS * 1000;
      try {
        return await handleQueueEvent(event, { getRemainingTimeInMillis: () => deadline - Date.now(), awsRequestId: crypto.randomUUID() }, container);
      } finally {
        handlerMs += performance.now() - t0;
        this.idle.push(container);
      }
    };
    const stats = await runEventSource(world.sqsClient(), world.queue.url, handler, {
      batchSize: 1,
      maxConcurrency: this.settings.maxConcurrency,
      done: () => reported.size >= queued.dispatched,
      timeoutMs: this.settings.timeoutMs,
      idleMs: POLL_IDLE_MS,
    });
    const cpu = process.cpuUsage(before.cpu);
    return {
      wallMs: lastRunAt - started,
      dispatchMs,
      dispatched: queued.dispatched,
      queueMessages: queued.messages,
      runs: [...tally.runs],
      invocations: stats.invocations,
      maxConcurrentInvocations: stats.maxConcurrentInvocations,
      containersStarted: this.containers - before.containers,
      handlerMs,
      processCpuMs: (cpu.user + cpu.system) / 1000,
      workerDynamo: meterDelta(before.workerDynamo, world.meters.workerDynamo.snapshot()),
      dispatcherDynamo: meterDelta(before.dispatcherDynamo, world.meters.dispatcherDynamo.snapshot()),
      workerS3: meterDelta(before.workerS3, world.meters.workerS3.snapshot()),
      sqs: Object.fromEntries(SQS_OPERATIONS.map((op) => [op, world.sqs.calls(op) - (before.sqs[op] ?? 0)])),
      kms: world.kms.calls() - before.kms,
      putEvents: { requests: world.events.calls() - before.putEvents.requests, events: world.events.events.length - before.putEvents.events },
      pop3Sessions: world.pop3.sessions - before.pop3,
      pop3Commands: world.pop3Commands() - before.pop3Commands,
      logs: tally.snapshot(),
    };
  }

  private start(): Container {
    this.containers++;
    return this.world.container();
  }
}
