/**
 * What a worker run left behind, counted through the services' own APIs after the run:
 * the objects under the mailbox's key prefix (ListObjectsV2) and the message records in
 * state `stored` (Query on the mailbox's partition). A worker row only counts when both
 * equal the corpus: a run that skipped its writes must not look fast.
 */
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DEFAULT_PREFIX } from '../lambda/storage/object-key';
import { MESSAGE_KEY_PREFIX, PARTITION_KEY, SORT_KEY, mailboxKey } from '../lambda/state/table-schema';

export interface StoredCount {
  readonly objects: number;
  readonly records: number;
}

export async function countStored(s3: S3Client, bucket: string, dynamodb: DynamoDBClient, table: string, mailboxId: string): Promise<StoredCount> {
  const [objects, records] = await Promise.all([countObjects(s3, bucket, `${DEFAULT_PREFIX}${mailboxId}/`), countStoredRecords(dynamodb, table, mailboxId)]);
  return { objects, records };
}

async function countObjects(s3: S3Client, bucket: string, prefix: string): Promise<number> {
  let n = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    n += page.KeyCount ?? page.Contents?.length ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return n;
}

async function countStoredRecords(dynamodb: DynamoDBClient, table: string, mailboxId: string): Promise<number> {
  let n = 0;
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await dynamodb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :msg)',
        ExpressionAttributeNames: { '#pk': PARTITION_KEY, '#sk': SORT_KEY, '#status': 'status' },
        ExpressionAttributeValues: { ':pk': { S: mailboxKey(mailboxId) }, ':msg': { S: MESSAGE_KEY_PREFIX } },
        ProjectionExpression: '#status',
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    n += (page.Items ?? []).filter((item) => item.status?.S === 'stored').length;
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return n;
}
