/**
 * The dispatcher tick against real local parts: the registry in DynamoDB Local, the run
 * queue in the local SQS endpoint, real SDK clients. Due runs, packing, the cursor
 * (duplicate and missed ticks), paging, partial batch failures, the fleet metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { DispatchErrorCode } from '../../lambda/dispatch/errors';
import { runDispatchTick, type DispatchDeps } from '../../lambda/dispatch/dispatch-tick';
import { parseWorkerEvent } from '../../lambda/handlers/worker-event';
import { createLogger } from '../../lambda/observability/logger';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { ensureTable } from '../../lambda/state/table-schema';
import { TimetableFactory } from '../../lambda/schedule/timetable';
import { startDynamoDbLocal, type LocalDynamo } from '../fixtures/aws-local';
import { startFakeSqs, type FakeQueue, type FakeSqs } from '../fixtures/fake-sqs';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 10, 5, 12, 0, 0);
const TABLE = 'state';

describe('dispatch tick (DynamoDB Local + local SQS)', () => {
  let dynamo: LocalDynamo;
  let sqs: FakeSqs;
  let queue: FakeQueue;
  let registry: DynamoDbMailboxRegistry;
  let deps: DispatchDeps;
  const lines: string[] = [];
  const metrics = (): Record<string, unknown>[] => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((d) => d._aws !== undefined);

  const config = (id: string, schedule: string): MailboxConfig =>
    parseMailbox({ id, host: 'pop.example.org', username: id, password: { secretId: `mail/${id}` }, schedule });

  beforeAll(async () => {
    [dynamo, sqs] = await Promise.all([startDynamoDbLocal(), startFakeSqs({ now: () => T0 })]);
    await ensureTable(dynamo.dynamodb, TABLE);
    queue = sqs.createQueue('runs');
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: TABLE, now: () => new Date(T0 - 86_400_000) });
    for (let i = 0; i < 25; i++) await registry.add(config(`minutely-${String(i).padStart(2, '0')}`, 'rate(1 minute)'));
    for (let i = 0; i < 5; i++) await registry.add(config(`hourly-${i}`, 'rate(1 hour)'));
    await registry.add(config('quarter', 'cron(0/15 * * * ? *)'));
    await registry.add(config('disabled', 'rate(1 minute)'), { enabled: false });
    // Written past the parser (an item from an older version): the dispatcher must survive it.
    await registry.add({ ...config('broken', 'rate(1 minute)'), schedule: 'cron(0 * * * * *)' });
    deps = {
      dynamodb: dynamo.dynamodb,
      table: TABLE,
      sqs: sqs.createClient(),
      queueUrl: queue.url,
      metricsNamespace: 'MailfetchTest',
      stalePeriods: 3,
      mailboxesPerMessage: 10,
      registryPageLimit: 7,
      log: createLogger({}, { write: (line) => lines.push(line), level: 'warn' }),
      write: (line) => lines.push(line),
    };
  }, 120_000);
  afterAll(async () => {
    await Promise.all([dynamo?.stop(), sqs?.close()]);
  });

  const sentSince = (start: number): { ids: string[]; delays: number[]; bodies: ReturnType<typeof parseWorkerEvent>[] } => {
    const messages = queue.sent.slice(start);
    const bodies = messages.map((m) => parseWorkerEvent(JSON.parse(m.body)));
    return { ids: bodies.flatMap((b) => b.mailboxIds), delays: messages.map((m) => (m.visibleAt - m.sentAt) / 1000), bodies };
  };

  it('queues every due enabled mailbox once, packed ≤ 10 per message, delayed to its own offset; pages through the registry', async () => {
    const now = T0 + 2_000;
    const summary = await runDispatchTick(deps, now);
    const { ids, delays, bodies } = sentSince(0);
    // T0 is the top of the hour: every minutely, hourly and quarter-hourly slot of [12:00, 12:01) is due.
    const expected = [...Array.from({ length: 25 }, (_, i) => `minutely-${String(i).padStart(2, '0')}`), ...Array.from({ length: 5 }, (_, i) => `hourly-${i}`), 'quarter'];
    const hourlyDue = expected.filter((id) => {
      const slot = new TimetableFactory().for(id.startsWith('hourly') ? 'rate(1 hour)' : id === 'quarter' ? 'cron(0/15 * * * ? *)' : 'rate(1 minute)', id).next(T0);
      return slot! < T0 + MINUTE;
    });
    expect(ids.sort()).toEqual(hourlyDue.sort());
    expect(bodies.every((b) => b.mailboxIds.length <= 10 && b.action === 'fetch')).toBe(true);
    expect(Math.max(...delays)).toBeLessThanOrEqual(58);
    expect(new Set(delays).size).toBeGreaterThan(3); // spread, not all at once
    expect(summary.sweep).toMatchObject({ enabled: 32, disabled: 1, unschedulable: ['broken'] });
    expect(sqs.calls('SendMessageBatch')).toBe(Math.ceil(summary.messages / 10));
  });

  it('emits the fleet metrics without dimensions (StaleMailboxes among them)', () => {
    const [doc] = metrics();
    expect(doc).toMatchObject({ StaleMailboxes: expect.any(Number), LateMailboxes: expect.any(Number), DispatchLagSeconds: expect.any(Number), UnschedulableMailboxes: 1 });
    const aws = doc!._aws as { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] };
    expect(aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'MailfetchTest', Dimensions: [[]] });
    expect(aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name)).toContain('StaleMailboxes');
    // None of them ever ran, created a day ago: every schedulable one is stale and late.
    expect(doc).toMatchObject({ StaleMailboxes: 31, LateMailboxes: 31 });
  });

  it('a second delivery of the same tick sends nothing; a tick after missed ones catches up once per mailbox', async () => {
    const before = queue.sent.length;
    expect(await runDispatchTick(deps, T0 + 30_000)).toMatchObject({ alreadyCovered: true, messages: 0 });
    expect(queue.sent.length).toBe(before);
    // Ticks of 12:01 to 12:04 were missed; the 12:05 tick covers [12:01, 12:06).
    const summary = await runDispatchTick(deps, T0 + 5 * MINUTE + 1_000);
    expect(summary.window).toEqual({ from: T0 + MINUTE, to: T0 + 6 * MINUTE });
    const { ids } = sentSince(before);
    const minutely = ids.filter((id) => id.startsWith('minutely'));
    expect(minutely).toHaveLength(25);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('health written by runs makes mailboxes on time: not late, not stale', async () => {
    const now = T0 + 7 * MINUTE + 1_000;
    for (let i = 0; i < 25; i++) {
      await registry.recordRun(`minutely-${String(i).padStart(2, '0')}`, { action: 'fetch', status: 'ok', at: new Date(now - 1_000).toISOString(), backlog: 0, durationMs: 100 });
    }
    lines.length = 0;
    await runDispatchTick(deps, now);
    expect(metrics()[0]).toMatchObject({ LateMailboxes: 6, StaleMailboxes: 6 });
  });

  it('re-sends entries SQS failed; a tick that cannot queue throws SEND_FAILED and leaves the cursor, so the next tick sends them', async () => {
    const before = queue.sent.length;
    sqs.failNextBatchEntries(3);
    const ok = await runDispatchTick(deps, T0 + 8 * MINUTE + 1_000);
    expect(sentSince(before).ids).toHaveLength(ok.sweep!.due.length);

    const mid = queue.sent.length;
    for (let i = 0; i < 3; i++) sqs.failNext('SendMessageBatch', { status: 500, type: 'InternalError' });
    await expect(runDispatchTick(deps, T0 + 9 * MINUTE + 1_000)).rejects.toMatchObject({ code: DispatchErrorCode.SEND_FAILED });
    const retried = await runDispatchTick(deps, T0 + 9 * MINUTE + 20_000);
    expect(retried.window.from).toBe(T0 + 9 * MINUTE);
    expect(sentSince(mid).ids).toEqual(expect.arrayContaining(Array.from({ length: 25 }, (_, i) => `minutely-${String(i).padStart(2, '0')}`)));
  });
});
