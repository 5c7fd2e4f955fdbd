/** The StateStore contract on DynamoDbStateStore against AWS's DynamoDB Local, a fresh table per test. */
import { afterAll, beforeAll } from 'vitest';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynamoDbLocal, type LocalDynamo } from '../fixtures/aws-local';
import { stateStoreContract } from './state-store.contract';

let local: LocalDynamo;
let tables = 0;

beforeAll(async () => {
  local = await startDynamoDbLocal();
});
afterAll(() => local?.stop());

stateStoreContract('DynamoDbStateStore on DynamoDB Local', () => ({
  create: async () => {
    const tableName = `contract-${++tables}`;
    await ensureTable(local.dynamodb, tableName);
    return new DynamoDbStateStore({ client: local.dynamodb, tableName });
  },
}));
