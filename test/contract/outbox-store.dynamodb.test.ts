/** The OutboxStore contract on DynamoDbOutboxStore, against DynamoDB Local and dynalite (the embedded store), a fresh table per test. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoDbOutboxStore } from '../../lambda/state/dynamodb-outbox-store';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynalite, startDynamoDbLocal, type LocalDynamo } from '../fixtures/aws-local';
import { outboxStoreContract } from './outbox-store.contract';

const servers: Record<'local' | 'dynalite', LocalDynamo | undefined> = { local: undefined, dynalite: undefined };
let tables = 0;

beforeAll(async () => {
  [servers.local, servers.dynalite] = await Promise.all([startDynamoDbLocal(), startDynalite()]);
});
afterAll(async () => {
  await Promise.all([servers.local?.stop(), servers.dynalite?.stop()]);
});

for (const backend of ['local', 'dynalite'] as const) {
  outboxStoreContract(`DynamoDbOutboxStore on ${backend === 'local' ? 'DynamoDB Local' : 'dynalite'}`, {
    create: async () => {
      const { dynamodb } = servers[backend]!;
      const tableName = `outbox-${++tables}`;
      await ensureTable(dynamodb, tableName);
      return { outbox: new DynamoDbOutboxStore({ client: dynamodb, tableName }), state: new DynamoDbStateStore({ client: dynamodb, tableName }) };
    },
  });
}

describe('DynamoDbOutboxStore capacity', () => {
  it("counts what the outbox consumes into the run's tally (the state store's), on DynamoDB Local", async () => {
    const { dynamodb } = servers.local!;
    const tableName = `outbox-${++tables}`;
    await ensureTable(dynamodb, tableName);
    const state = new DynamoDbStateStore({ client: dynamodb, tableName });
    const outbox = new DynamoDbOutboxStore({ client: dynamodb, tableName, capacity: state });
    state.resetCapacity();
    const batch = await outbox.add('acme', ['a', 'b'], '2026-12-06T10:00:00.000Z');
    expect(state.consumedCapacity()).toEqual({ readUnits: 0, writeUnits: 1 });
    await outbox.list('acme', 10);
    // An eventually consistent Query of one small item: half a read unit.
    expect(state.consumedCapacity()).toEqual({ readUnits: 0.5, writeUnits: 1 });
    await outbox.settle('acme', batch, ['b']);
    await outbox.settle('acme', batch, []);
    expect(state.consumedCapacity()).toEqual({ readUnits: 0.5, writeUnits: 3 });
  });
});
