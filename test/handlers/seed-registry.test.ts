/**
 * The deployment's registry seeding (custom resource handler) against dynalite: the file's
 * mailboxes go in, CLI changes to other mailboxes and to `enabled` survive a redeploy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMailbox } from '../../lambda/config/validate-config';
import { SEED_MAILBOXES_PROPERTY } from '../../lambda/env';
import { handleSeedEvent, SEED_PHYSICAL_ID } from '../../lambda/handlers/seed-registry';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynalite, type LocalDynamo } from '../fixtures/aws-local';

const box = (id: string, port = 995): object => ({ id, host: 'pop.example.org', port, username: 'u', password: { secretId: `mail/${id}` } });
const props = (...mailboxes: object[]): Record<string, unknown> => ({ [SEED_MAILBOXES_PROPERTY]: JSON.stringify(mailboxes.map((m) => parseMailbox(m))) });

describe('seed-registry handler', () => {
  let dynamo: LocalDynamo;
  let registry: DynamoDbMailboxRegistry;

  beforeAll(async () => {
    dynamo = await startDynalite();
    await ensureTable(dynamo.dynamodb, 'seed');
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: 'seed' });
  });
  afterAll(async () => {
    await dynamo?.stop();
  });

  it('create adds the file\'s mailboxes; update changes and removes only the file\'s, keeping enabled and CLI-added ones; delete keeps all', async () => {
    const created = await handleSeedEvent({ RequestType: 'Create', ResourceProperties: props(box('a'), box('b')) }, registry);
    await registry.setEnabled('a', false);
    await registry.add(parseMailbox(box('from-cli')));

    const updated = await handleSeedEvent(
      { RequestType: 'Update', ResourceProperties: props(box('a', 1995), box('c')), OldResourceProperties: props(box('a'), box('b')) },
      registry,
    );
    await handleSeedEvent({ RequestType: 'Delete', ResourceProperties: props(box('a', 1995), box('c')) }, registry);

    expect(created).toEqual({ PhysicalResourceId: SEED_PHYSICAL_ID, Data: { added: 2, updated: 0, removed: 0 } });
    expect(updated).toEqual({ PhysicalResourceId: SEED_PHYSICAL_ID, Data: { added: 1, updated: 1, removed: 1 } });
    const after = await registry.list();
    expect(after.map((m) => [m.config.id, m.enabled, m.config.port])).toEqual([
      ['a', false, 1995],
      ['c', true, 995],
      ['from-cli', true, 995],
    ]);
  });

  it('refuses a property that is not a valid mailbox list, writing nothing', async () => {
    const before = await registry.list();

    await expect(handleSeedEvent({ RequestType: 'Create', ResourceProperties: { [SEED_MAILBOXES_PROPERTY]: JSON.stringify([{ id: 'x', host: 'h' }]) } }, registry)).rejects.toThrow(/username/);

    expect(await registry.list()).toEqual(before);
  });
});
