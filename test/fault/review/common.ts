import { randomUUID } from 'node:crypto';
import { runMailbox, type RunMailboxOptions } from '../../../lambda/sync/run-mailbox';
import type { RunSummary } from '../../../lambda/sync/run-summary';
import type { StateStore } from '../../../lambda/state/state-store';
import type { MessageSink } from '../../../lambda/storage/message-sink';
import { openSession } from '../../../lambda/pop3';
import { afterAll, beforeAll } from 'vitest';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../../fixtures/aws-local';
import { startFakePop3, type FakePop3Options, type FakePop3Server } from '../../fixtures/fake-pop3-server';
import { WorkerBench } from '../../sync/harness';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function benchFor(s3: LocalS3, dynamo: LocalDynamo, server: FakePop3Server, mailbox: Record<string, unknown> = {}): Promise<WorkerBench> {
  return WorkerBench.create({
    s3,
    dynamo,
    pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
    mailbox,
  });
}

/** A run with a custom state/sink wrapper (the harness has no hook for that). */
export async function runWith(
  bench: WorkerBench,
  server: FakePop3Server,
  o: { state?: StateStore; sink?: MessageSink; now?: () => number } & Partial<RunMailboxOptions> = {},
): Promise<RunSummary> {
  const now = o.now ?? Date.now;
  return runMailbox(
    {
      state: o.state ?? bench.state,
      sink: o.sink ?? bench.sink,
      openSession: async (_m, signal) =>
        openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', signal, pipelining: bench.mailbox.pipelining }),
      now,
    },
    { mailbox: bench.mailbox, deadline: now() + 120_000, safetyMarginMs: 10_000, owner: randomUUID(), ...o },
  );
}

/** Local S3 and DynamoDB for one test file, and the fake POP3 servers it starts (closed after it). */
export interface LocalWorld {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
  /** Starts a fake POP3 server that is closed after the file. */
  fake(options?: FakePop3Options): Promise<FakePop3Server>;
}

/** Module-level setup shared by the review and server-semantics tests. */
export function useLocalWorld(): LocalWorld {
  let s3: LocalS3 | undefined;
  let dynamo: LocalDynamo | undefined;
  const servers: FakePop3Server[] = [];
  beforeAll(async () => {
    [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop()]);
  });
  return {
    get s3(): LocalS3 {
      if (!s3) throw new Error('local S3 is not started (use the world inside tests)');
      return s3;
    },
    get dynamo(): LocalDynamo {
      if (!dynamo) throw new Error('DynamoDB Local is not started (use the world inside tests)');
      return dynamo;
    },
    async fake(options: FakePop3Options = {}): Promise<FakePop3Server> {
      const server = await startFakePop3(options);
      servers.push(server);
      return server;
    },
  };
}
