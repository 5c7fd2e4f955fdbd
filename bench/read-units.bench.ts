/**
 * DynamoDB read units of a run that finds no new mail, at 1k, 10k and 100k recorded
 * messages: the summary fast path (O(1) reads) against the full diff (every record read,
 * what a run does when the summary is missing or the listing changed other than by
 * appending).
 *
 * Per size: the mailbox's records are seeded with BatchWriteItem (stored-message records
 * shaped like the worker's), a fake POP3 server lists the same UIDs, then
 * 1. a run without summary: full diff; it writes the summary, as every run does;
 * 2. a run with that summary: the fast path.
 * Both report summary.readUnits, the ConsumedCapacity DynamoDB returned (strongly
 * consistent reads: 1 unit per 4 KB).
 */
import { BatchWriteItemCommand, DeleteItemCommand, type DynamoDBClient, type WriteRequest } from '@aws-sdk/client-dynamodb';
import { DEFAULT_LIMITS, type MailboxConfig } from '../lambda/config/mailbox-config';
import { openSession } from '../lambda/pop3';
import { DynamoDbStateStore } from '../lambda/state/dynamodb-state-store';
import { ensureTable, mailboxKey, messageKey, SUMMARY_SORT_KEY } from '../lambda/state/table-schema';
import { headerFingerprint } from '../lambda/storage/header-block';
import type { MessageSink } from '../lambda/storage/message-sink';
import { runMailbox } from '../lambda/sync/run-mailbox';
import type { RunSummary } from '../lambda/sync/run-summary';
import type { LocalDynamo } from '../test/fixtures/aws-local';
import { startFakePop3, type FakeMessage } from '../test/fixtures/fake-pop3-server';
import { log, nowMs } from './common';

const MAILBOX_ID = 'rcu-box';
const SEED_CONCURRENCY = 8;
/** Every listed message: the records must match its LIST size and header fingerprint, or the run's audit refetches it. */
const MESSAGE = Buffer.from('Subject: x\r\n\r\nx\r\n', 'latin1');
const MESSAGE_FINGERPRINT = headerFingerprint(MESSAGE);

export interface ReadUnitsRow {
  readonly backend: string;
  readonly records: number;
  readonly fastPath: { readUnits: number; ms: number; fullDiff: boolean };
  readonly fullDiff: { readUnits: number; ms: number; fullDiff: boolean };
  readonly seedMs: number;
}

function uidOf(i: number): string {
  return `uid-${i.toString(16).padStart(8, '0')}`;
}

function recordItem(i: number, stamp: string): WriteRequest {
  const uid = uidOf(i);
  const hex = (seed: string): string => Buffer.from(`${seed}${i}`).toString('hex').padEnd(64, '0').slice(0, 64);
  return {
    PutRequest: {
      Item: {
        pk: { S: mailboxKey(MAILBOX_ID) },
        sk: { S: messageKey(uid) },
        identity: { S: uid },
        uid: { S: uid },
        status: { S: 'stored' },
        size: { N: String(MESSAGE.length) },
        firstSeenAt: { S: stamp },
        storedAt: { S: stamp },
        objectKey: { S: `messages/${MAILBOX_ID}/${uid}.eml` },
        sha256: { S: hex('s') },
        headerFingerprint: { S: MESSAGE_FINGERPRINT },
      },
    },
  };
}

async function seed(dynamodb: DynamoDBClient, table: string, from: number, to: number): Promise<void> {
  const stamp = new Date().toISOString();
  const batches: WriteRequest[][] = [];
  for (let i = from; i < to; i += 25) {
    batches.push(Array.from({ length: Math.min(25, to - i) }, (_, j) => recordItem(i + j, stamp)));
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      let pending: WriteRequest[] = batches[next++]!;
      while (pending.length > 0) {
        const r = await dynamodb.send(new BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
        pending = r.UnprocessedItems?.[table] ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: SEED_CONCURRENCY }, worker));
}

const noSink: MessageSink = {
  objectKey: (m, i) => `${m}/${i}`,
  store: () => Promise.reject(new Error('read-units bench: no message should be fetched')),
  readHeaderBlock: () => Promise.reject(new Error('read-units bench: no object should be read')),
};

export async function runReadUnits(backend: string, dynamo: LocalDynamo, sizes: readonly number[]): Promise<ReadUnitsRow[]> {
  const table = `rcu-${Date.now()}`;
  await ensureTable(dynamo.dynamodb, table);
  const server = await startFakePop3({ user: 'alice', password: 'secret' });
  const state = new DynamoDbStateStore({ client: dynamo.dynamodb, tableName: table });
  const mailbox: MailboxConfig = {
    id: MAILBOX_ID,
    host: server.host,
    port: server.port,
    tls: 'none',
    username: 'alice',
    auth: 'auto',
    password: { env: 'UNUSED' },
    allowPlaintextAuth: true,
    retention: 'keep',
    limits: DEFAULT_LIMITS,
    pipelining: true,
    schedule: 'rate(5 minutes)',
  };
  const run = async (): Promise<{ readUnits: number; ms: number; fullDiff: boolean; summary: RunSummary }> => {
    const started = nowMs();
    const summary = await runMailbox(
      {
        state,
        sink: noSink,
        openSession: (_m, signal) =>
          openSession({ host: server.host, port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', signal }),
      },
      { mailbox, deadline: Date.now() + 10 * 60_000, safetyMarginMs: 10_000 },
    );
    if (summary.status !== 'ok' || summary.new !== 0 || summary.fetched !== 0) {
      throw new Error(`read-units bench: expected a no-new-mail run, got ${JSON.stringify(summary)}`);
    }
    return { readUnits: summary.readUnits, ms: nowMs() - started, fullDiff: summary.fullDiff, summary };
  };
  const rows: ReadUnitsRow[] = [];
  let seeded = 0;
  try {
    for (const n of sizes) {
      const t = nowMs();
      await seed(dynamo.dynamodb, table, seeded, n);
      const fresh: FakeMessage[] = [];
      for (let i = seeded; i < n; i++) fresh.push({ uid: uidOf(i), bytes: MESSAGE });
      server.addMessages(fresh);
      seeded = n;
      const seedMs = nowMs() - t;
      // 1. No summary: the full diff (it writes the summary at the end).
      await dynamo.dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: mailboxKey(MAILBOX_ID) }, sk: { S: SUMMARY_SORT_KEY } } }));
      const full = await run();
      // 2. The summary matches the listing: the fast path.
      const fast = await run();
      if (!full.fullDiff || fast.fullDiff || full.summary.listed !== n) {
        throw new Error(`read-units bench: unexpected plan at ${n} (full: ${full.fullDiff}, fast: ${fast.fullDiff}, listed ${full.summary.listed})`);
      }
      rows.push({ backend, records: n, seedMs, fullDiff: { readUnits: full.readUnits, ms: full.ms, fullDiff: true }, fastPath: { readUnits: fast.readUnits, ms: fast.ms, fullDiff: false } });
      log(`read units ${backend} ${n}: fast path ${fast.readUnits}, full diff ${full.readUnits} (seeded in ${(seedMs / 1000).toFixed(1)} s)`);
    }
  } finally {
    await server.close();
  }
  return rows;
}
