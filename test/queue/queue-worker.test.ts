/**
 * The worker fed by the run queue, on real local parts: the per-host session cap (measured
 * on the fake POP3 server) with runs deferred, never dropped; the registry's per-host
 * setting; partial batch failures and the dead-letter queue; duplicates skipped.
 */
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { DynamoDbHostSlots, setHostSessionLimit, type HostSlots } from '../../lambda/hosts/host-slots';
import { runEventSource } from '../fixtures/sqs-event-source';
import { TABLE, useFleetWorld } from './fleet-world';

describe('worker on the run queue', () => {
  const world = useFleetWorld(60);

  const send = async (bodies: object[]): Promise<void> => {
    const client = world.sqs.createClient();
    for (let i = 0; i < bodies.length; i += 10) {
      const entries = bodies.slice(i, i + 10).map((b, j) => ({ Id: `e${i + j}`, MessageBody: JSON.stringify(b) }));
      await client.send(new SendMessageBatchCommand({ QueueUrl: world.queue.url, Entries: entries }));
    }
  };
  const healthOk = async (ids: string[], since: number): Promise<boolean> => {
    const all = await world.registry.list();
    return ids.every((id) => {
      const h = all.find((m) => m.config.id === id)?.health;
      return h?.lastRunStatus === 'ok' && Date.parse(h.lastRunAt ?? '') >= since;
    });
  };
  const metricSum = (name: string): number =>
    world.lines.map((l) => JSON.parse(l) as Record<string, unknown>).reduce((sum, d) => sum + (typeof d[name] === 'number' && d._aws ? (d[name] as number) : 0), 0);

  it('12 mailboxes on one host with a cap of 2: never more than 2 sessions at once, every mailbox runs, deferred runs come back', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `capped-${i}`);
    for (const id of ids) await world.registry.add(world.mailbox(id));
    const start = Date.now();
    world.maxSessions = 0;
    await send([0, 4, 8].map((i) => ({ action: 'fetch', mailboxIds: ids.slice(i, i + 4), dueAt: new Date(start).toISOString() })));
    const deps = world.deps(undefined, { limits: { '127.0.0.1': 2 } });
    let done = false;
    const polling = runEventSource(world.sqs.createClient(), world.queue.url, world.invoke(deps), { batchSize: 1, maxConcurrency: 3, done: () => done, timeoutMs: 60_000 });
    await world.waitFor(() => healthOk(ids, start), 60_000);
    done = true;
    const stats = await polling;

    expect(world.maxSessions).toBeLessThanOrEqual(2);
    expect(world.maxSessions).toBe(2); // the cap is used, not just respected
    for (const id of ids) expect(await world.objectsOf(id)).toBe(1);
    expect(metricSum('DeferredRuns')).toBeGreaterThan(0); // some had to wait: they ran late, not never
    expect(stats.failedRecords).toBe(0);
    expect(world.dlq.messages).toHaveLength(0);
    // Each ran once: one run summary per mailbox.
    const summaries = world.lines
      .map((l) => JSON.parse(l) as { message?: string; mailbox: string; summary?: { status: string } })
      .filter((l) => l.message === 'run summary' && l.summary?.status !== 'busy')
      .map((l) => l.mailbox);
    expect(summaries.filter((m) => m.startsWith('capped-')).sort()).toEqual([...ids].sort());
  });

  it('a host cap in the registry (#HOST#<host> #CONFIG) wins over the deployment default', async () => {
    const ids = Array.from({ length: 4 }, (_, i) => `single-${i}`);
    for (const id of ids) await world.registry.add(world.mailbox(id));
    await setHostSessionLimit(world.dynamo.dynamodb, TABLE, '127.0.0.1', 1);
    const start = Date.now();
    world.maxSessions = 0;
    await send([{ action: 'fetch', mailboxIds: ids.slice(0, 2) }, { action: 'fetch', mailboxIds: ids.slice(2) }]);
    let done = false;
    const polling = runEventSource(world.sqs.createClient(), world.queue.url, world.invoke(world.deps(undefined, { limits: { '127.0.0.1': 5 } })), { batchSize: 1, maxConcurrency: 2, done: () => done, timeoutMs: 60_000 });
    await world.waitFor(() => healthOk(ids, start), 60_000);
    done = true;
    await polling;
    expect(world.maxSessions).toBe(1);
    await setHostSessionLimit(world.dynamo.dynamodb, TABLE, '127.0.0.1', undefined);
  });

  it('a lane keeps its host slot from one mailbox to the next on the same host: one take per lane, not per run', async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `lane-${i}`);
    for (const id of ids) await world.registry.add(world.mailbox(id));
    const real = new DynamoDbHostSlots({ client: world.dynamo.dynamodb, tableName: TABLE });
    let taken = 0;
    let released = 0;
    const counting: HostSlots = {
      acquire: async (...args) => {
        taken++;
        return real.acquire(...args);
      },
      release: async (lease) => {
        released++;
        return real.release(lease);
      },
    };
    const deps = world.deps(counting);
    const response = await world.invoke({ ...deps, queue: { ...deps.queue!, runConcurrency: 2 } })({
      Records: [{ messageId: 'lanes', eventSource: 'aws:sqs', body: JSON.stringify({ action: 'fetch', mailboxIds: ids }) }],
    });
    expect(response.batchItemFailures).toEqual([]);
    expect(taken).toBe(2);
    expect(released).toBe(2);
    for (const id of ids) expect(await world.objectsOf(id)).toBe(1);
  });

  it('skips a mailbox that already ran after the slot the message serves (a duplicate)', async () => {
    await world.registry.add(world.mailbox('dup'));
    await world.registry.recordRun('dup', { action: 'fetch', status: 'ok', at: new Date().toISOString(), backlog: 0, durationMs: 1 });
    const opened = world.sessionsOpened;
    const response = await world.invoke(world.deps())({
      Records: [{ messageId: 'x1', eventSource: 'aws:sqs', body: JSON.stringify({ action: 'fetch', mailboxIds: ['dup'], dueAt: new Date(Date.now() - 60_000).toISOString() }) }],
    });
    expect(response.batchItemFailures).toEqual([]);
    expect(world.sessionsOpened).toBe(opened);
    expect(metricSum('SupersededRuns')).toBeGreaterThan(0);
  });

  it('reports only the failed messages of a batch; a message that keeps failing ends in the dead-letter queue', async () => {
    await world.registry.add(world.mailbox('good'));
    await world.registry.add(world.mailbox('unlucky', { host: 'localhost' }));
    const real = new DynamoDbHostSlots({ client: world.dynamo.dynamodb, tableName: TABLE });
    // The slot table fails for one host only: its message is retried, the others are not.
    const flaky: HostSlots = {
      acquire: (host, ...rest) => (host === 'localhost' ? Promise.reject(new Error('slot table down')) : real.acquire(host, ...rest)),
      release: (lease) => real.release(lease),
    };
    const invoke = world.invoke(world.deps(flaky));
    const response = await invoke({
      Records: [
        { messageId: 'ok', eventSource: 'aws:sqs', body: JSON.stringify({ action: 'fetch', mailboxIds: ['good'] }) },
        { messageId: 'poison', eventSource: 'aws:sqs', body: '{"action":"fetch","mailboxId":"good","host":"evil.example"}' },
        { messageId: 'flaky', eventSource: 'aws:sqs', body: JSON.stringify({ action: 'fetch', mailboxIds: ['unlucky'] }) },
        { messageId: 'gone', eventSource: 'aws:sqs', body: JSON.stringify({ action: 'fetch', mailboxIds: ['never-registered'] }) },
      ],
    });
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['flaky', 'poison']);

    // Through a queue with a 1-second visibility: received 3 times (maxReceiveCount), then in the DLQ.
    const dlq = world.sqs.createQueue('flaky-dlq');
    const queue = world.sqs.createQueue('flaky', { visibilityTimeoutSeconds: 1, redrive: { deadLetterQueue: dlq, maxReceiveCount: 3 } });
    queue.send(JSON.stringify({ action: 'fetch', mailboxIds: ['unlucky'] }), 0, Date.now());
    let done = false;
    const polling = runEventSource(world.sqs.createClient(), queue.url, invoke, { batchSize: 10, maxConcurrency: 1, done: () => done, timeoutMs: 30_000 });
    await world.waitFor(async () => dlq.messages.length === 1, 30_000);
    done = true;
    const stats = await polling;
    expect(stats.failedRecords).toBe(3);
    expect(JSON.parse(dlq.messages[0]!.body)).toEqual({ action: 'fetch', mailboxIds: ['unlucky'] });
  });
  it('one invocation writes one fleet EMF document for all its runs (values as arrays), and an idle run no per-session line', async () => {
    const ids = ['emf-a', 'emf-b', 'emf-c'];
    for (const id of ids) await world.registry.add(world.mailbox(id));
    const invoke = world.invoke(world.deps());
    const record = (messageId: string) => ({ messageId, eventSource: 'aws:sqs', body: JSON.stringify({ action: 'fetch', mailboxIds: ids }) });
    await invoke({ Records: [record('emf-1')] });
    world.lines.length = 0;

    // Second pass: every mailbox idle (its one message already stored).
    expect((await invoke({ Records: [record('emf-2')] })).batchItemFailures).toEqual([]);
    const docs = world.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((d) => d._aws !== undefined && d.MessagesFetched !== undefined);
    expect(docs).toHaveLength(1);
    expect(docs[0]).toMatchObject({ MessagesFetched: [0, 0, 0], RunSucceeded: [1, 1, 1], RunFailed: [0, 0, 0] });
    const parsed = world.lines.map((l) => JSON.parse(l) as { message?: string; mailbox?: string; level?: string });
    expect(parsed.filter((l) => l.message === 'run summary').map((l) => l.mailbox).sort()).toEqual(ids);
    expect(parsed.filter((l) => l.message === 'session-finished')).toEqual([]);
  });
});
