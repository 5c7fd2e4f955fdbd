/**
 * A server that announces (and enforces) RFC 2449 LOGIN-DELAY 900, with a mailbox scheduled
 * every minute, end to end on local parts: registry -> dispatcher ticks -> run queue ->
 * worker -> health. The run that learns the delay records it; ticks within the delay
 * dispatch nothing (the slots wait, neither late nor stale); a run queued before the delay
 * was known is skipped as not due without a login; the tick at the delay's end runs it.
 * No run fails and no failure metric is raised.
 */
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { runDispatchTick, type DispatchSummary } from '../../lambda/dispatch/dispatch-tick';
import { handleQueueEvent } from '../../lambda/handlers/fetch-mailbox';
import type { BatchResponse, SqsEvent } from '../../lambda/queue/queue-batch';
import { loginDelay } from '../fixtures/pop3-profiles';
import { runEventSource } from '../fixtures/sqs-event-source';
import { useFleetWorld } from './fleet-world';

const SQS_TIME_SCALE = 30;
const DELAY_SECONDS = 900;
const MINUTE_MS = 60_000;
const INVOCATION_MS = 60_000;

describe('LOGIN-DELAY: runs wait for the delay, and nothing fails', () => {
  /** The clock of the dispatcher, of the worker's queue decisions and of the POP3 server. */
  let offsetMs = 0;
  const clock = (): number => Date.now() + offsetMs;
  const world = useFleetWorld(600, SQS_TIME_SCALE, { profiles: [loginDelay({ seconds: DELAY_SECONDS })], clock });

  const tick = (at: number): Promise<DispatchSummary> => runDispatchTick(world.dispatchDeps(10), at);

  /** Runs the queue until `until` holds; what the event source saw. */
  const drain = async (until: () => Promise<boolean>): Promise<{ failedRecords: number }> => {
    let done = false;
    const deps = world.deps(undefined, { now: clock });
    // The invocation's time left, on the test's clock (the worker's queue decisions use it).
    const invoke = (event: SqsEvent): Promise<BatchResponse> => handleQueueEvent(event, { getRemainingTimeInMillis: () => INVOCATION_MS + offsetMs, awsRequestId: `req-${clock()}` }, deps);
    const polling = runEventSource(world.sqs.createClient(), world.queue.url, invoke, { batchSize: 1, maxConcurrency: 1, done: () => done, timeoutMs: 60_000 });
    try {
      await world.waitFor(until, 60_000);
    } finally {
      done = true;
    }
    return polling;
  };
  const emf = (name: string): number[] =>
    world.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((d) => d._aws !== undefined && name in d)
      .flatMap((d) => [d[name]].flat() as number[]);
  const queueEmpty = async (): Promise<boolean> => world.queue.messages.length === 0;

  it('ticks within the delay dispatch nothing; an early queued run is not due; the tick at its end runs it', async () => {
    const id = 'slow-server';
    await world.registry.add(world.mailbox(id, { schedule: 'rate(1 minute)' }));
    const t0 = clock();

    expect((await tick(t0)).sweep!.due.map((d) => d.id)).toEqual([id]);
    await drain(async () => (await world.registry.get(id))?.health.lastRunStatus === 'ok');
    const learnt = (await world.registry.get(id))!.health;
    expect(learnt).toMatchObject({ loginDelaySeconds: DELAY_SECONDS, consecutiveFailures: 0 });
    const nextLoginAt = Date.parse(learnt.nextLoginAt!);
    expect(nextLoginAt).toBeGreaterThanOrEqual(t0 + DELAY_SECONDS * 1000);
    expect(world.sessionsOpened).toBe(1);

    // Five and ten minutes on: the minutes' slots wait, nothing is queued, nothing is late or stale.
    for (const minutes of [5, 10]) {
      offsetMs = minutes * MINUTE_MS;
      const waiting = await tick(clock());
      expect(waiting.sweep).toMatchObject({ due: [], waitingForLoginDelay: 1, late: 0, stale: 0 });
    }
    // A run queued before the delay was known (a tick during the first run) is not due: no login.
    const queued = world.queue.sent.length;
    const early = { action: 'fetch', mailboxIds: [id], dueAt: new Date(t0 + MINUTE_MS).toISOString() };
    await world.sqs.createClient().send(new SendMessageCommand({ QueueUrl: world.queue.url, MessageBody: JSON.stringify(early) }));
    expect((await drain(queueEmpty)).failedRecords).toBe(0);
    expect(world.queue.sent.length).toBe(queued + 1);
    expect(world.sessionsOpened).toBe(1);

    // The tick whose minute holds the delay's end runs it then, and the server accepts the login.
    offsetMs = nextLoginAt + 1_000 - Date.now();
    const due = await tick(clock());
    expect(due.sweep!.due).toEqual([{ id, host: '127.0.0.1', slotMs: nextLoginAt }]);
    const before = (await world.registry.get(id))!.health.lastRunAt;
    await drain(async () => (await world.registry.get(id))?.health.lastRunAt !== before);
    expect(world.sessionsOpened).toBe(2);

    const health = (await world.registry.get(id))!.health;
    expect(health).toMatchObject({ lastRunStatus: 'ok', consecutiveFailures: 0, loginDelaySeconds: DELAY_SECONDS });
    expect(Date.parse(health.nextLoginAt!)).toBeGreaterThan(nextLoginAt);
    expect(health.lastErrorCode).toBeUndefined();
    // No failure anywhere: runs, alarms' metrics, the dead-letter queue, the server.
    expect(emf('RunFailed').every((v) => v === 0)).toBe(true);
    expect(emf('RunFailed')).toHaveLength(2);
    expect(emf('StaleMailboxes').every((v) => v === 0)).toBe(true);
    expect(emf('LateMailboxes').every((v) => v === 0)).toBe(true);
    expect(emf('Errors')).toEqual([]);
    expect(world.dlq.messages).toHaveLength(0);
    expect(world.pop3.errors).toEqual([]);
    expect(world.lines.some((l) => l.includes('run not due'))).toBe(true);
  });
});
