/**
 * Where an SDK client's DynamoDB requests go, for the direct path: the SDK's own endpoint
 * rules on the client's configuration decide (custom endpoints, FIPS, account-based
 * endpoints), once per table, and the client's credential provider and clock-skew
 * correction sign. Used where a client exists anyway (the tests, the command); the Lambda
 * worker resolves from its environment instead (environment-target.ts) and loads no SDK.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { DirectDynamoDbTarget, DirectDynamoDbTargetSource } from './direct-dynamodb';

export function sdkClientTarget(client: DynamoDBClient): DirectDynamoDbTargetSource {
  return (tableName) => resolveTarget(client, tableName);
}

/**
 * Undefined when the requests need more than plain SigV4 to `/`: extra headers, a query or
 * a path of the endpoint's own (the SDK signs such paths its own way).
 */
async function resolveTarget(client: DynamoDBClient, tableName: string): Promise<DirectDynamoDbTarget | undefined> {
  const [{ BatchWriteItemCommand }, { getEndpointFromInstructions }] = await Promise.all([import('./dynamodb-sdk'), import('@smithy/core/endpoints')]);
  // A copy: the resolution may write a configured endpoint into the config it is given.
  const endpoint = await getEndpointFromInstructions({ RequestItems: { [tableName]: [] } }, BatchWriteItemCommand, { ...client.config });
  const scheme = (endpoint.properties?.authSchemes as Array<Record<string, unknown>> | undefined)?.[0];
  if (scheme !== undefined && scheme.name !== 'sigv4') return undefined;
  if (endpoint.url.search !== '' || (endpoint.headers && Object.keys(endpoint.headers).length > 0)) return undefined;
  if (endpoint.url.pathname !== '/') return undefined;
  const region = typeof scheme?.signingRegion === 'string' ? scheme.signingRegion : await client.config.region();
  return {
    url: endpoint.url,
    region,
    credentials: () => client.config.credentials(),
    clockOffsetMs: () => client.config.systemClockOffset ?? 0,
  };
}
