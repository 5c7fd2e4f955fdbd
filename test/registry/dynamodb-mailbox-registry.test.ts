/**
 * The DynamoDB registry against dynalite (conditional writes, ADD, Query): configuration
 * and health written separately, never overwriting each other.
 */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { RegistryErrorCode } from '../../lambda/registry/errors';
import type { RunOutcome } from '../../lambda/registry/mailbox-registry';
import { registryKey } from '../../lambda/registry/registry-item';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynalite, type LocalDynamo } from '../fixtures/aws-local';

const TABLE = 'registry-test';

function config(id: string, fields: Record<string, unknown> = {}): MailboxConfig {
  return parseMailbox({ id, host: 'pop.example.org', username: 'u', password: { secretId: `mail/${id}` }, ...fields });
}

const failed = (code: string, at = '2026-01-01T00:00:00.000Z'): RunOutcome => ({ action: 'fetch', status: 'error', at, backlog: 4, durationMs: 120, error: { code, message: `${code} happened` } });
const succeeded = (at: string, backlog = 0): RunOutcome => ({ action: 'fetch', status: 'ok', at, backlog, durationMs: 80 });

describe('DynamoDbMailboxRegistry', () => {
  let dynamo: LocalDynamo;
  let registry: DynamoDbMailboxRegistry;

  beforeAll(async () => {
    dynamo = await startDynalite();
    await ensureTable(dynamo.dynamodb, TABLE);
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: TABLE });
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('adds a mailbox and reads back the same validated configuration, enabled or not', async () => {
    const gmail = config('gmail', { host: 'pop.gmail.com', retention: { deleteAfterDays: 7 }, limits: { maxMessagesPerRun: 5 } });

    await registry.add(gmail);
    await registry.add(config('quiet'), { enabled: false });

    expect(await registry.get('gmail')).toEqual({ config: gmail, enabled: true, health: { consecutiveFailures: 0 }, configVersion: 1, configUpdatedAt: expect.any(String) });
    expect((await registry.get('quiet'))?.enabled).toBe(false);
    expect(await registry.get('nobody')).toBeUndefined();
  });

  it('refuses to add an id twice, and to update, enable or disable an unknown one, naming the mailbox', async () => {
    await registry.add(config('twice'));

    await expect(registry.add(config('twice', { port: 1995 }))).rejects.toMatchObject({ code: RegistryErrorCode.MAILBOX_EXISTS, message: expect.stringContaining('"twice"') });
    await expect(registry.update(config('ghost'))).rejects.toMatchObject({ code: RegistryErrorCode.MAILBOX_NOT_REGISTERED, mailboxId: 'ghost' });
    await expect(registry.setEnabled('ghost', true)).rejects.toMatchObject({ code: RegistryErrorCode.MAILBOX_NOT_REGISTERED });
    expect(await registry.get('ghost')).toBeUndefined();
    expect((await registry.get('twice'))?.config.port).toBe(995);
  });

  it('health: failures count up, a success resets them and keeps the last error; busy changes nothing but the last run', async () => {
    await registry.add(config('health'));

    await registry.recordRun('health', failed('CONNECT_FAILED'));
    await registry.recordRun('health', failed('AUTH_FAILED', '2026-01-01T00:05:00.000Z'));
    const failing = (await registry.get('health'))!.health;
    await registry.recordRun('health', succeeded('2026-01-01T00:10:00.000Z', 2));
    await registry.recordRun('health', { action: 'fetch', status: 'busy', at: '2026-01-01T00:15:00.000Z', backlog: 0, durationMs: 3 });
    const after = (await registry.get('health'))!.health;

    expect(failing).toMatchObject({ consecutiveFailures: 2, lastRunStatus: 'error', lastErrorCode: 'AUTH_FAILED', lastErrorMessage: 'AUTH_FAILED happened', backlog: 4 });
    expect(failing.lastSuccessAt).toBeUndefined();
    expect(after).toEqual({
      consecutiveFailures: 0,
      lastRunAt: '2026-01-01T00:15:00.000Z',
      lastRunStatus: 'busy',
      lastAction: 'fetch',
      lastSuccessAt: '2026-01-01T00:10:00.000Z',
      lastErrorAt: '2026-01-01T00:05:00.000Z',
      lastErrorCode: 'AUTH_FAILED',
      lastErrorMessage: 'AUTH_FAILED happened',
      backlog: 2,
      lastDurationMs: 80,
    });
  });

  it("health keeps the server's LOGIN-DELAY a run learnt until a run learns another (the dispatcher waits for nextLoginAt)", async () => {
    await registry.add(config('delayed'));
    const loginDelay = { seconds: 900, nextLoginAt: '2026-01-01T00:15:02.000Z' };
    await registry.recordRun('delayed', { ...succeeded('2026-01-01T00:00:05.000Z'), loginDelay });
    await registry.recordRun('delayed', { action: 'fetch', status: 'busy', at: '2026-01-01T00:05:00.000Z', backlog: 0, durationMs: 3 });
    expect((await registry.get('delayed'))!.health).toMatchObject({ loginDelaySeconds: 900, nextLoginAt: loginDelay.nextLoginAt, lastRunStatus: 'busy' });
    await registry.recordRun('delayed', { ...succeeded('2026-01-01T00:15:10.000Z'), loginDelay: { seconds: 60, nextLoginAt: '2026-01-01T00:16:05.000Z' } });
    expect((await registry.get('delayed'))!.health).toMatchObject({ loginDelaySeconds: 60, nextLoginAt: '2026-01-01T00:16:05.000Z', consecutiveFailures: 0 });
  });

  it('health writes and configuration changes racing each other lose nothing of either', async () => {
    await registry.add(config('race'));
    const ports = Array.from({ length: 15 }, (_, i) => 2000 + i);

    await Promise.all([
      ...ports.map((port) => registry.update(config('race', { port }))),
      ...ports.map(() => registry.recordRun('race', failed('CONNECT_FAILED'))),
      registry.setEnabled('race', false),
    ]);

    const race = (await registry.get('race'))!;
    expect(race.configVersion).toBe(1 + ports.length);
    expect(ports).toContain(race.config.port);
    expect(race.enabled).toBe(false);
    expect(race.health.consecutiveFailures).toBe(ports.length);
  });

  it('a run ending after its mailbox was removed writes nothing (no health-only item appears)', async () => {
    await registry.add(config('gone'));
    expect(await registry.remove('gone')).toBe(true);

    expect(await registry.recordRun('gone', succeeded('2026-01-01T00:00:00.000Z'))).toBe(false);
    expect(await registry.get('gone')).toBeUndefined();
    expect(await registry.remove('gone')).toBe(false);
  });

  it('lists registry items only (never the mailboxes\' state), and resetting a mailbox\'s state keeps its item', async () => {
    await registry.add(config('listed'));
    const state = new DynamoDbStateStore({ client: dynamo.dynamodb, tableName: TABLE });
    await state.putSummary('listed', { count: 1, listingHash: 'h', updatedAt: '2026-01-01T00:00:00.000Z' });

    await state.resetMailbox('listed');
    const ids = (await registry.list()).map((m) => m.config.id);

    expect(ids).toContain('listed');
    expect(ids).toEqual([...ids].sort());
    expect(await registry.get('listed')).toBeDefined();
  });

  it('an item whose configuration does not pass the parser is refused with the mailbox and the field named', async () => {
    await dynamo.dynamodb.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { ...registryKey('handmade'), mailboxId: { S: 'handmade' }, config: { S: JSON.stringify({ id: 'handmade', host: 'h', username: 'u', password: { secretId: 's' }, port: 0 }) }, enabled: { BOOL: true } },
      }),
    );

    await expect(registry.get('handmade')).rejects.toMatchObject({
      code: RegistryErrorCode.REGISTRY_ITEM_INVALID,
      message: expect.stringMatching(/mailbox "handmade".*port/),
    });
  });

  it('a missing table is a REGISTRY_FAILED error that says what to do', async () => {
    const nowhere = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'no-such-table' });

    await expect(nowhere.get('x')).rejects.toMatchObject({ code: RegistryErrorCode.REGISTRY_FAILED, message: expect.stringContaining('--create-missing') });
  });
});
