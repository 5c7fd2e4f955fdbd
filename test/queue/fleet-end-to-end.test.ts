/**
 * End to end on local parts: mailboxes in the registry (DynamoDB Local) on a fake POP3
 * server -> a dispatcher tick -> the run queue (local SQS, its clock 30 times faster so the
 * spreading delays pass in seconds) -> the worker through a local event source mapping ->
 * message objects in S3 (s3rver) and health in the registry.
 */
import { describe, expect, it } from 'vitest';
import { runDispatchTick } from '../../lambda/dispatch/dispatch-tick';
import { runEventSource } from '../fixtures/sqs-event-source';
import { useFleetWorld } from './fleet-world';

const SQS_TIME_SCALE = 30;

describe('registry -> dispatcher -> queue -> worker -> S3', () => {
  const world = useFleetWorld(600, SQS_TIME_SCALE);

  it('runs every enabled mailbox once, spread over the minute, and stores its mail', async () => {
    const enabled = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
    for (const id of enabled) await world.registry.add(world.mailbox(id, { schedule: 'rate(1 minute)' }));
    await world.registry.add(world.mailbox('hourly-elsewhere', { host: 'localhost', schedule: 'rate(1 hour)' }));
    await world.registry.add(world.mailbox('off', { schedule: 'rate(1 minute)' }), { enabled: false });
    const start = Date.now();

    const tick = await runDispatchTick(world.dispatchDeps(2), start);
    const dispatched = tick.sweep!.due.map((d) => d.id);
    expect(dispatched).toEqual(expect.arrayContaining(enabled));
    expect(dispatched).not.toContain('off');
    expect(world.queue.sent.length).toBe(tick.messages);
    expect(tick.messages).toBeGreaterThanOrEqual(Math.ceil(dispatched.length / 2));

    let done = false;
    const polling = runEventSource(world.sqs.createClient(), world.queue.url, world.invoke(world.deps()), { batchSize: 1, maxConcurrency: 3, done: () => done, timeoutMs: 60_000 });
    await world.waitFor(async () => {
      const all = await world.registry.list();
      return dispatched.every((id) => all.find((m) => m.config.id === id)?.health.lastRunStatus === 'ok');
    }, 60_000);
    done = true;
    const stats = await polling;

    for (const id of dispatched) expect(await world.objectsOf(id)).toBe(1);
    expect(await world.objectsOf('off')).toBe(0);
    expect(stats.failedRecords).toBe(0);
    expect(world.dlq.messages).toHaveLength(0);
    // Spread: the messages did not all become visible at once.
    expect(new Set(world.queue.sent.map((m) => m.visibleAt - m.sentAt)).size).toBeGreaterThan(1);
  });
});
