/**
 * The dispatcher's view of the registry: one eventually consistent Query of the registry
 * partition, page by page (1 MB each), projecting only what scheduling needs. Eventual
 * consistency halves the read cost; a mailbox added or disabled a second ago is picked up
 * (or dropped) one tick later, and the worker's own strongly consistent read refuses a
 * disabled one anyway.
 */
import { QueryCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { REGISTRY_PARTITION, RegistryAttr, type Item } from '../registry/registry-item';
import { DispatchError, DispatchErrorCode } from './errors';

/** One registry item as the dispatcher reads it; times in epoch ms. */
export interface FleetEntry {
  readonly id: string;
  /** The POP3 host: runs on one host are packed together (they share a session slot). */
  readonly host?: string;
  readonly schedule: string;
  readonly enabled: boolean;
  readonly lastRunAt?: number;
  readonly lastSuccessAt?: number;
  readonly createdAt?: number;
  /** The server's LOGIN-DELAY as the last run learnt it: no run is dispatched before `nextLoginAt`. */
  readonly nextLoginAt?: number;
  readonly loginDelayMs?: number;
}

const PROJECTED = [
  RegistryAttr.mailboxId,
  RegistryAttr.host,
  RegistryAttr.schedule,
  RegistryAttr.enabled,
  RegistryAttr.lastRunAt,
  RegistryAttr.lastSuccessAt,
  RegistryAttr.createdAt,
  RegistryAttr.nextLoginAt,
  RegistryAttr.loginDelaySeconds,
] as const;

/**
 * Pages of the registry, in key order. `pageLimit` caps items per page (DynamoDB's 1 MB
 * page holds about 2,000 registry items); tests use it to page small fleets.
 * @throws DispatchError REGISTRY_UNREADABLE
 */
export async function* scanRegistry(client: DynamoDBClient, table: string, pageLimit?: number): AsyncGenerator<FleetEntry[]> {
  let startKey: Item | undefined;
  do {
    let page;
    try {
      page = await client.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: '#pk = :pk',
          ProjectionExpression: PROJECTED.map((name) => `#${name}`).join(', '),
          ExpressionAttributeNames: { '#pk': RegistryAttr.pk, ...Object.fromEntries(PROJECTED.map((name) => [`#${name}`, name])) },
          ExpressionAttributeValues: { ':pk': { S: REGISTRY_PARTITION } },
          ConsistentRead: false,
          ...(pageLimit === undefined ? {} : { Limit: pageLimit }),
          ...(startKey === undefined ? {} : { ExclusiveStartKey: startKey }),
        }),
      );
    } catch (err) {
      throw new DispatchError(DispatchErrorCode.REGISTRY_UNREADABLE, `Query of the registry in table ${table} failed: ${(err as Error).name ?? 'error'}`, err);
    }
    yield (page.Items ?? []).flatMap((item) => {
      const entry = toEntry(item);
      return entry === undefined ? [] : [entry];
    });
    startKey = page.LastEvaluatedKey;
  } while (startKey !== undefined);
}

/** An item without an id or a schedule is not a mailbox the dispatcher can run. */
function toEntry(item: Item): FleetEntry | undefined {
  const id = item[RegistryAttr.mailboxId]?.S;
  const schedule = item[RegistryAttr.schedule]?.S;
  if (id === undefined || schedule === undefined) return undefined;
  const time = (name: string): { [key: string]: number } => {
    const ms = Date.parse(item[name]?.S ?? '');
    return Number.isNaN(ms) ? {} : { [name]: ms };
  };
  const host = item[RegistryAttr.host]?.S;
  const delaySeconds = Number(item[RegistryAttr.loginDelaySeconds]?.N ?? NaN);
  return {
    id,
    ...(host === undefined ? {} : { host: host.toLowerCase() }),
    schedule,
    enabled: item[RegistryAttr.enabled]?.BOOL === true,
    ...time(RegistryAttr.lastRunAt),
    ...time(RegistryAttr.lastSuccessAt),
    ...time(RegistryAttr.createdAt),
    ...time(RegistryAttr.nextLoginAt),
    ...(delaySeconds > 0 ? { loginDelayMs: delaySeconds * 1000 } : {}),
  };
}
