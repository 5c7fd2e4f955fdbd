/**
 * How far the dispatcher has dispatched: one item (`#DISPATCH` / `CURSOR`, attribute
 * `coveredUntilMs`) in the state table. A tick covers the slots from the cursor to the end
 * of its minute, so a tick that was missed (the function throttled, an outage) is caught up
 * by the next, and a tick delivered twice finds its minute covered and sends nothing.
 * The cursor moves only after the messages are queued: a tick that fails is redone (runs
 * sent twice are coalesced by the worker, which skips a mailbox already run since `dueAt`).
 */
import { GetItemCommand, UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { classifyAwsError } from '../state/errors';
import { PARTITION_KEY, SORT_KEY } from '../state/table-schema';
import { DispatchError, DispatchErrorCode } from './errors';

/** The dispatcher's own partition: the registry's Query never sees it. */
export const DISPATCH_PARTITION = '#DISPATCH';
export const CURSOR_SORT_KEY = 'CURSOR';
const COVERED_UNTIL = 'coveredUntilMs';

const KEY = { [PARTITION_KEY]: { S: DISPATCH_PARTITION }, [SORT_KEY]: { S: CURSOR_SORT_KEY } };

export class DispatchCursor {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly table: string,
  ) {}

  /** The end of the last committed window (epoch ms); undefined before the first tick. */
  async read(): Promise<number | undefined> {
    try {
      const out = await this.client.send(new GetItemCommand({ TableName: this.table, Key: KEY, ConsistentRead: true }));
      const value = out.Item?.[COVERED_UNTIL]?.N;
      return value === undefined ? undefined : Number(value);
    } catch (err) {
      throw new DispatchError(DispatchErrorCode.CURSOR_FAILED, `GetItem of the dispatch cursor in ${this.table} failed`, err);
    }
  }

  /**
   * Moves the cursor from `from` (undefined: no cursor yet) to `to`. False when another tick
   * moved it first (its messages went out too; the worker coalesces the duplicates).
   */
  async commit(from: number | undefined, to: number): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: KEY,
          UpdateExpression: 'SET #covered = :to',
          ConditionExpression: from === undefined ? 'attribute_not_exists(#covered)' : '#covered = :from',
          ExpressionAttributeNames: { '#covered': COVERED_UNTIL },
          ExpressionAttributeValues: { ':to': { N: String(to) }, ...(from === undefined ? {} : { ':from': { N: String(from) } }) },
        }),
      );
      return true;
    } catch (err) {
      if (classifyAwsError(err) === 'CONDITION_FAILED') return false;
      throw new DispatchError(DispatchErrorCode.CURSOR_FAILED, `UpdateItem of the dispatch cursor in ${this.table} failed`, err);
    }
  }
}
