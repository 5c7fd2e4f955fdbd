/**
 * Deep overlap keeps up to 64 messages between RETR and their record, bounded by 32 MiB. A
 * server that announces far less in LIST than it sends must not widen that bound: what the
 * messages in flight hold is counted by what arrived. Here every message announces 100
 * octets and delivers 2 MiB, and each store waits a little after writing, so stores pile
 * up as far as the worker lets them.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import { openSession } from '../../lambda/pop3';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { FileMessageSink } from '../../lambda/storage/file-message-sink';
import type { MessageSink } from '../../lambda/storage/message-sink';
import { MAX_UPLOAD_OCTETS_IN_FLIGHT } from '../../lambda/sync/run-session';
import { runMailbox } from '../../lambda/sync/run-mailbox';
import { startDynalite, type LocalDynamo } from '../fixtures/aws-local';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';

const MESSAGES = 40;
const MESSAGE_OCTETS = 2 * 1024 * 1024;
const ANNOUNCED_OCTETS = 100;
const STORE_HOLD_MS = 2_000;

describe('deep overlap under a server that announces less than it sends', () => {
  let dynamo: LocalDynamo;
  let server: FakePop3Server;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mailfetch-overlap-'));
    dynamo = await startDynalite();
    await ensureTable(dynamo.dynamodb, 'overlap');
    const body = (n: number): string => `Subject: big ${n}\r\n\r\n${`${'x'.repeat(1022)}\r\n`.repeat(MESSAGE_OCTETS / 1024)}`;
    server = await startFakePop3({
      messages: Array.from({ length: MESSAGES }, (_, i) => ({ uid: `u${i}`, bytes: Buffer.from(body(i), 'latin1') })),
      profiles: [{ name: 'announces-100-octets', reportedSize: () => ANNOUNCED_OCTETS }],
    });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([server?.close(), dynamo?.stop()]);
    await rm(dir, { recursive: true, force: true });
  });

  it(`holds at most ${MAX_UPLOAD_OCTETS_IN_FLIGHT / 1024 / 1024} MiB of what arrived (plus the message being read), not 64 messages`, async () => {
    const files = new FileMessageSink({ directory: dir });
    let active = 0;
    let peak = 0;
    const sink: MessageSink = {
      objectKey: (mailbox, identity) => files.objectKey(mailbox, identity),
      readHeaderBlock: (key) => files.readHeaderBlock(key),
      store: async (input) => {
        active++;
        peak = Math.max(peak, active);
        try {
          const stored = await files.store(input);
          await new Promise((resolve) => setTimeout(resolve, STORE_HOLD_MS));
          return stored;
        } finally {
          active--;
        }
      },
    };
    const mailbox = parseMailbox({ id: 'liar', host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: { env: 'UNUSED' }, limits: { maxMessageBytes: 4 * MESSAGE_OCTETS } });
    const summary = await runMailbox(
      {
        state: new DynamoDbStateStore({ client: dynamo.dynamodb, tableName: 'overlap' }),
        sink,
        openSession: (_m, signal) => openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret', signal }),
      },
      { mailbox, deadline: Date.now() + 120_000 },
    );
    expect(summary).toMatchObject({ status: 'ok', fetched: MESSAGES });
    // 16 messages of 2 MiB fill 32 MiB; one more may be in the sink while it is read.
    expect(peak).toBeLessThanOrEqual(MAX_UPLOAD_OCTETS_IN_FLIGHT / MESSAGE_OCTETS + 1);
    expect(peak).toBeGreaterThan(1);
  }, 120_000);
});
