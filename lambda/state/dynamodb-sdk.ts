/**
 * The parts of the DynamoDB SDK mailfetch uses, for the modules that load it on demand
 * (`import('./dynamodb-sdk')`): a dynamic import of the SDK's own module would bundle every
 * command it has; this one names the few that are used, so the lazy chunk holds only them.
 */
export {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
