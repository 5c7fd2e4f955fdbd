/** The OutboxStore contract on DynamoDbOutboxStore, against DynamoDB Local and dynalite (the embedded store), a fresh table per test. */
import { afterAll, beforeAll } from 'vitest';
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
