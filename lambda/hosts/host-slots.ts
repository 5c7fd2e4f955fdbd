/**
 * A cap on concurrent POP3 sessions per host, shared by every worker: providers rate-limit
 * and lock mailboxes when too many sessions come from one client. Slot leases in the state
 * table, in the host's own partition:
 *
 * | pk                | sk          | attributes                                                |
 * |-------------------|-------------|-----------------------------------------------------------|
 * | `#HOST#<host>`    | `#CONFIG`   | maxSessions (N): this host's cap (`setHostSessionLimit`)   |
 * | `#HOST#<host>`    | `SLOT#<n>`  | owner, leaseExpiresAtMs (N), expiresAt (TTL, epoch s)      |
 *
 * Acquiring is one strongly consistent Query of the partition (the cap and the slots in
 * one read) and a conditional PutItem on a free slot: taken only when absent or expired,
 * so a worker that crashed frees its slot when its lease expires (its invocation's end).
 * A full host costs the Query only. Releasing deletes the slot if still ours.
 */
import { MailfetchError } from '../errors';
import type { DynamoDbApi, DynamoDbTarget } from '../state/dynamodb-api';
import { classifyAwsError } from '../state/errors';
import { dynamoDbApiOf } from '../state/sdk-dynamodb-api';
import { PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE } from '../state/table-schema';
import { stableOffset } from '../schedule/timetable';

export const HOST_PARTITION_PREFIX = '#HOST#';
export const HOST_CONFIG_SORT_KEY = '#CONFIG';
const SLOT_PREFIX = 'SLOT#';
/** The default: at most 10 sessions at once on one POP3 host. */
export const DEFAULT_HOST_SESSION_LIMIT = 10;
/** Free slots tried per acquire before the run is deferred (another worker took them first). */
const ACQUIRE_ATTEMPTS = 3;
/** Slot items linger this long after their lease for TTL to remove them (never relied upon). */
const SLOT_TTL_GRACE_S = 3_600;

export const HostSlotErrorCode = { HOST_SLOTS_UNAVAILABLE: 'HOST_SLOTS_UNAVAILABLE' } as const;
export type HostSlotErrorCode = (typeof HostSlotErrorCode)[keyof typeof HostSlotErrorCode];

/** DynamoDB failed while taking or releasing a slot: the run is retried with its message. */
export class HostSlotError extends MailfetchError<HostSlotErrorCode> {
  override readonly name = 'HostSlotError';

  constructor(message: string, cause?: unknown) {
    super(HostSlotErrorCode.HOST_SLOTS_UNAVAILABLE, message, true, cause);
  }
}

export interface HostSlotLease {
  readonly host: string;
  readonly slot: number;
  readonly owner: string;
}

export interface HostSlots {
  /** A slot on `host` until `expiresAtMs`, or undefined when the host is at its cap. @throws HostSlotError */
  acquire(host: string, owner: string, nowMs: number, expiresAtMs: number): Promise<HostSlotLease | undefined>;
  /** Frees the slot if still ours; failures are for the caller to log (the lease expires anyway). */
  release(lease: HostSlotLease): Promise<void>;
}

export interface HostSlotsOptions {
  /** The DynamoDB port, or an SDK client. */
  readonly client: DynamoDbTarget;
  readonly tableName: string;
  /** @default DEFAULT_HOST_SESSION_LIMIT */
  readonly defaultLimit?: number;
  /** Per-host caps from the deployment (the construct prop); a `#CONFIG` item wins over them. */
  readonly limits?: Readonly<Record<string, number>>;
}

/** Host names compare case-insensitively, as DNS does. */
export function hostKey(host: string): string {
  return `${HOST_PARTITION_PREFIX}${host.toLowerCase()}`;
}

export class DynamoDbHostSlots implements HostSlots {
  private readonly limits: ReadonlyMap<string, number>;
  private readonly db: DynamoDbApi;

  constructor(private readonly options: HostSlotsOptions) {
    this.db = dynamoDbApiOf(options.client);
    this.limits = new Map(Object.entries(options.limits ?? {}).map(([host, limit]) => [host.toLowerCase(), limit]));
  }

  async acquire(host: string, owner: string, nowMs: number, expiresAtMs: number): Promise<HostSlotLease | undefined> {
    const { limit, busy } = await this.read(host, nowMs);
    const free = Array.from({ length: limit }, (_, i) => i).filter((i) => !busy.has(i));
    if (free.length === 0) return undefined;
    // Start at a different free slot per owner: concurrent workers rarely race for one.
    const start = stableOffset(owner, free.length);
    const order = [...free.slice(start), ...free.slice(0, start)].slice(0, ACQUIRE_ATTEMPTS);
    for (const slot of order) {
      if (await this.take(host, slot, owner, nowMs, expiresAtMs)) return { host, slot, owner };
    }
    return undefined;
  }

  async release(lease: HostSlotLease): Promise<void> {
    try {
      await this.db.send('DeleteItem', {
          TableName: this.options.tableName,
          Key: slotKey(lease.host, lease.slot),
          ConditionExpression: '#owner = :owner',
          ExpressionAttributeNames: { '#owner': 'owner' },
          ExpressionAttributeValues: { ':owner': { S: lease.owner } },
        },
      );
    } catch (err) {
      if (classifyAwsError(err) === 'CONDITION_FAILED') return; // expired and taken over: not ours
      throw new HostSlotError(`DeleteItem of a session slot of ${lease.host} failed`, err);
    }
  }

  /** The host's cap and the slots held (unexpired) now. */
  private async read(host: string, nowMs: number): Promise<{ limit: number; busy: Set<number> }> {
    let items;
    try {
      const out = await this.db.send('Query', {
          TableName: this.options.tableName,
          KeyConditionExpression: '#pk = :pk',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY },
          ExpressionAttributeValues: { ':pk': { S: hostKey(host) } },
          ConsistentRead: true,
        },
      );
      items = out.Items ?? [];
    } catch (err) {
      throw new HostSlotError(`Query of the session slots of ${host} failed`, err);
    }
    const configured = Number(items.find((i) => i[SORT_KEY]?.S === HOST_CONFIG_SORT_KEY)?.maxSessions?.N);
    const limit = Number.isInteger(configured) && configured > 0 ? configured : (this.limits.get(host.toLowerCase()) ?? this.options.defaultLimit ?? DEFAULT_HOST_SESSION_LIMIT);
    const busy = new Set<number>();
    for (const item of items) {
      const sk = item[SORT_KEY]?.S ?? '';
      if (sk.startsWith(SLOT_PREFIX) && Number(item.leaseExpiresAtMs?.N) > nowMs) busy.add(Number(sk.slice(SLOT_PREFIX.length)));
    }
    return { limit, busy };
  }

  private async take(host: string, slot: number, owner: string, nowMs: number, expiresAtMs: number): Promise<boolean> {
    try {
      await this.db.send('PutItem', {
          TableName: this.options.tableName,
          Item: {
            ...slotKey(host, slot),
            owner: { S: owner },
            leaseExpiresAtMs: { N: String(expiresAtMs) },
            [TTL_ATTRIBUTE]: { N: String(Math.ceil(expiresAtMs / 1000) + SLOT_TTL_GRACE_S) },
          },
          ConditionExpression: 'attribute_not_exists(#pk) OR #expires < :now',
          ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#expires': 'leaseExpiresAtMs' },
          ExpressionAttributeValues: { ':now': { N: String(nowMs) } },
        },
      );
      return true;
    } catch (err) {
      if (classifyAwsError(err) === 'CONDITION_FAILED') return false;
      throw new HostSlotError(`PutItem of a session slot of ${host} failed`, err);
    }
  }
}

function slotKey(host: string, slot: number): Record<string, { S: string }> {
  return { [PARTITION_KEY]: { S: hostKey(host) }, [SORT_KEY]: { S: `${SLOT_PREFIX}${String(slot).padStart(4, '0')}` } };
}

/** Sets (or with undefined, removes) a host's own cap: the registry setting that wins over the deployment's. */
export async function setHostSessionLimit(client: DynamoDbTarget, tableName: string, host: string, limit: number | undefined): Promise<void> {
  const key = { [PARTITION_KEY]: { S: hostKey(host) }, [SORT_KEY]: { S: HOST_CONFIG_SORT_KEY } };
  const db = dynamoDbApiOf(client);
  if (limit === undefined) {
    await db.send('DeleteItem', { TableName: tableName, Key: key });
    return;
  }
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`a host session limit must be a whole number of at least 1 (got ${limit})`);
  await db.send('PutItem', { TableName: tableName, Item: { ...key, maxSessions: { N: String(limit) } } });
}
