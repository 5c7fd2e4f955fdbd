import { randomUUID } from 'node:crypto';
import { runMailbox, type RunMailboxOptions } from '../../../lambda/sync/run-mailbox';
import type { RunSummary } from '../../../lambda/sync/run-summary';
import type { StateStore } from '../../../lambda/state/state-store';
import type { MessageSink } from '../../../lambda/storage/message-sink';
import { openSession } from '../../../lambda/pop3';
import type { LocalDynamo, LocalS3 } from '../../fixtures/aws-local';
import type { FakePop3Server } from '../../fixtures/fake-pop3-server';
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
