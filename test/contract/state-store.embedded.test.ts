/**
 * The StateStore contract on DynamoDbStateStore against the embedded store of `--local DIR`
 * (dynalite on its LevelDB directory, as the CLI starts it), a fresh table per test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { startEmbeddedAws, type EmbeddedAws } from '../../lambda/local/embedded-aws';
import { DynamoDbStateStore } from '../../lambda/state/dynamodb-state-store';
import { ensureTable } from '../../lambda/state/table-schema';
import { stateStoreContract } from './state-store.contract';

let dir: string;
let embedded: EmbeddedAws;
let tables = 0;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailfetch-contract-embedded-'));
  embedded = await startEmbeddedAws(dir);
});
afterAll(async () => {
  await embedded?.stop();
  await rm(dir, { recursive: true, force: true });
});

stateStoreContract('DynamoDbStateStore on the embedded dynalite (--local)', () => ({
  create: async () => {
    const tableName = `contract-${++tables}`;
    await ensureTable(embedded.dynamodb, tableName);
    return new DynamoDbStateStore({ client: embedded.dynamodb, tableName });
  },
}));
