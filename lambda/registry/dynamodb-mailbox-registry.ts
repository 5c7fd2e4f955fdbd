/**
 * DynamoDB adapter of `MailboxRegistry`: one item per mailbox in the state table, all in
 * the `#REGISTRY` partition (layout in registry-item.ts and docs/registry.md).
 *
 * Writes are built so that configuration and health never overwrite each other: `add` is
 * a conditional PutItem (the id must be free), `update` and `setEnabled` set configuration
 * attributes only, `recordRun` sets health attributes only (health-update.ts).
 */
import type { MailboxConfig } from '../config/mailbox-config';
import type { DynamoDbApi, DynamoDbTarget } from '../state/dynamodb-api';
import { classifyAwsError } from '../state/errors';
import { dynamoDbApiOf } from '../state/sdk-dynamodb-api';
import { alreadyRegistered, notRegistered, toRegistryError, type RegistryError } from './errors';
import { healthUpdate } from './health-update';
import type { AddOptions, MailboxRegistry, RegisteredMailbox, RunOutcome, UpdateOptions } from './mailbox-registry';
import { REGISTRY_PARTITION, RegistryAttr, configAttributes, itemToMailbox, newRegistryItem, registryKey, type Item } from './registry-item';

export interface DynamoDbMailboxRegistryOptions {
  /** The DynamoDB port, or an SDK client (tests and the CLI point one at DynamoDB Local or dynalite). */
  readonly client: DynamoDbTarget;
  /** The state table (the registry shares it). */
  readonly tableName: string;
  /** The clock, for configUpdatedAt / createdAt. @default () => new Date() */
  readonly now?: () => Date;
}

const ITEM_EXISTS = `attribute_exists(#${RegistryAttr.pk})`;
const ITEM_ABSENT = `attribute_not_exists(#${RegistryAttr.pk})`;
const PK_NAME = { [`#${RegistryAttr.pk}`]: RegistryAttr.pk };

export class DynamoDbMailboxRegistry implements MailboxRegistry {
  readonly description: string;
  private readonly db: DynamoDbApi;
  private readonly table: string;
  private readonly now: () => Date;

  constructor(options: DynamoDbMailboxRegistryOptions) {
    this.db = dynamoDbApiOf(options.client);
    this.table = options.tableName;
    this.now = options.now ?? (() => new Date());
    this.description = `table ${options.tableName}`;
  }

  async get(id: string): Promise<RegisteredMailbox | undefined> {
    // Strongly consistent: a mailbox disabled a moment ago must not run.
    const result = await this.send('GetItem', id, () =>
      this.db.send('GetItem', { TableName: this.table, Key: registryKey(id), ConsistentRead: true }),
    );
    return result.Item === undefined ? undefined : itemToMailbox(result.Item);
  }

  async list(): Promise<RegisteredMailbox[]> {
    const mailboxes: RegisteredMailbox[] = [];
    let startKey: Item | undefined;
    do {
      const page = await this.send('Query', undefined, () =>
        this.db.send('Query', {
          TableName: this.table,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': RegistryAttr.pk },
          ExpressionAttributeValues: { ':pk': { S: REGISTRY_PARTITION } },
          ConsistentRead: true,
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
      for (const item of page.Items ?? []) mailboxes.push(itemToMailbox(item));
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return mailboxes;
  }

  async add(config: MailboxConfig, options: AddOptions = {}): Promise<void> {
    const item = newRegistryItem(config, this.now().toISOString(), options.enabled ?? true, options.deployed === true);
    await this.conditional(
      'PutItem',
      config.id,
      () => this.db.send('PutItem', { TableName: this.table, Item: item, ConditionExpression: ITEM_ABSENT, ExpressionAttributeNames: PK_NAME }),
      () => alreadyRegistered(config.id, this.description),
    );
  }

  async update(config: MailboxConfig, options: UpdateOptions = {}): Promise<void> {
    const attributes: Item = {
      ...configAttributes(config),
      [RegistryAttr.configUpdatedAt]: { S: this.now().toISOString() },
      ...(options.deployed ? { [RegistryAttr.deployed]: { S: options.deployed } } : {}),
    };
    const names: Record<string, string> = { ...PK_NAME, [`#${RegistryAttr.configVersion}`]: RegistryAttr.configVersion };
    const values: Item = { ':one': { N: '1' } };
    for (const [name, value] of Object.entries(attributes)) {
      names[`#${name}`] = name;
      values[`:${name}`] = value;
    }
    const sets = Object.keys(attributes).map((n) => `#${n} = :${n}`).join(', ');
    let expression = `SET ${sets} ADD #${RegistryAttr.configVersion} :one`;
    if (options.deployed === null) {
      names[`#${RegistryAttr.deployed}`] = RegistryAttr.deployed;
      expression += ` REMOVE #${RegistryAttr.deployed}`;
    }
    await this.updateExisting(config.id, expression, names, values);
  }

  async setEnabled(id: string, enabled: boolean): Promise<void> {
    const names = { ...PK_NAME, '#enabled': RegistryAttr.enabled };
    await this.updateExisting(id, 'SET #enabled = :enabled', names, { ':enabled': { BOOL: enabled } });
  }

  async remove(id: string): Promise<boolean> {
    const result = await this.send('DeleteItem', id, () =>
      this.db.send('DeleteItem', { TableName: this.table, Key: registryKey(id), ReturnValues: 'ALL_OLD' }),
    );
    return result.Attributes !== undefined;
  }

  async recordRun(id: string, outcome: RunOutcome): Promise<boolean> {
    try {
      await this.db.send('UpdateItem', healthUpdate(this.table, id, outcome));
      return true;
    } catch (err) {
      if (classifyAwsError(err) === 'CONDITION_FAILED') return false;
      throw toRegistryError(err, 'UpdateItem (health)', this.table, id);
    }
  }

  // -------------------------------------------------------------------------------------

  private async updateExisting(id: string, expression: string, names: Record<string, string>, values: Item): Promise<void> {
    await this.conditional(
      'UpdateItem',
      id,
      () =>
        this.db.send('UpdateItem', {
          TableName: this.table,
          Key: registryKey(id),
          UpdateExpression: expression,
          ConditionExpression: ITEM_EXISTS,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      () => notRegistered(id, this.description),
    );
  }

  /** Runs a conditional write; a failed condition becomes `onConditionFailed()`. */
  private async conditional(operation: string, id: string, write: () => Promise<unknown>, onConditionFailed: () => RegistryError): Promise<void> {
    try {
      await write();
    } catch (err) {
      if (classifyAwsError(err) === 'CONDITION_FAILED') throw onConditionFailed();
      throw toRegistryError(err, operation, this.table, id);
    }
  }

  private async send<T>(operation: string, id: string | undefined, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw toRegistryError(err, operation, this.table, id);
    }
  }
}
