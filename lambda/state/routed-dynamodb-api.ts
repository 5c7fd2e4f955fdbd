/**
 * The DynamoDB port as a run uses it: each request tried on the direct path
 * (direct-dynamodb.ts), and sent through the SDK when that path does not take it. A refusal
 * the SDK then gets past means the direct request is wrong here: the path turns itself off
 * (the stores warn when they see that happen).
 */
import type { DynamoDBClient, DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { once } from '../client-source';
import { publicEndpoint, serviceEndpointFromEnvironment, type AwsServiceEndpoint } from '../aws-direct/aws-environment';
import { DirectDynamoDb } from './direct-dynamodb';
import type { DynamoDbApi, DynamoDbInput, DynamoDbOperation, DynamoDbOutput, DynamoDbSendOptions } from './dynamodb-api';
import { sdkClientTarget } from './sdk-client-target';
import { sdkDynamoDbApi } from './sdk-dynamodb-api';

export interface RoutedDynamoDbApi extends DynamoDbApi {
  /** The direct path: its interceptors, its state. */
  readonly direct: DirectDynamoDb;
}

/** Direct first, `sdk` for the rest. */
export function routedDynamoDbApi(direct: DirectDynamoDb, sdk: DynamoDbApi): RoutedDynamoDbApi {
  return {
    direct,
    async send<O extends DynamoDbOperation>(operation: O, input: DynamoDbInput<O>, options: DynamoDbSendOptions = {}): Promise<DynamoDbOutput<O>> {
      const outcome = await direct.send(operation, input, options.abortSignal);
      switch (outcome.kind) {
        case 'answered':
          return { ...outcome.output, $metadata: { httpStatusCode: 200 } } as unknown as DynamoDbOutput<O>;
        case 'failed':
        case 'uncertain':
          throw outcome.error;
        case 'retry-sdk':
          return sdk.send(operation, input, stillWanted(options));
        case 'refused': {
          const output = await sdk.send(operation, input, stillWanted(options));
          direct.disable(`refused (${outcome.reason}) where the SDK's request was taken`);
          return output;
        }
      }
    },
  };
}

/** A caller that stopped gets the SDK's AbortError without the SDK (or its loading). */
function stillWanted(options: DynamoDbSendOptions): DynamoDbSendOptions {
  if (options.abortSignal?.aborted) throw Object.assign(new Error('The operation was aborted'), { name: 'AbortError' });
  return options;
}

const bySdkClient = new WeakMap<DynamoDBClient, RoutedDynamoDbApi>();

/**
 * An SDK client's requests, direct where its configuration allows: one per client, so its
 * sockets and resolved endpoints live as long as the client (and tests reach its interceptors).
 */
export function directDynamoDbFor(client: DynamoDBClient): RoutedDynamoDbApi {
  let api = bySdkClient.get(client);
  if (!api) {
    api = routedDynamoDbApi(new DirectDynamoDb(sdkClientTarget(client)), sdkDynamoDbApi(client));
    bySdkClient.set(client, api);
  }
  return api;
}

/**
 * The Lambda worker's DynamoDB, from its environment: direct to the region's endpoint (or a
 * configured one) with the role's credentials, and an SDK client, made with `config` by the
 * first request the direct path does not take. Where only the SDK can resolve the endpoint,
 * everything goes through it.
 */
export function dynamoDbFromEnvironment(config: DynamoDBClientConfig = {}, env: NodeJS.ProcessEnv = process.env): DynamoDbApi {
  let made: DynamoDBClient | undefined;
  const sdk = sdkDynamoDbApi(once(async () => (made = new (await import('./dynamodb-sdk')).DynamoDBClient(config))));
  const endpoint = serviceEndpointFromEnvironment('dynamodb', env);
  // The SDK client, once made, lends its clock-skew correction to the direct requests.
  return endpoint ? dynamoDbAt(endpoint, sdk, () => made?.config.systemClockOffset ?? 0) : sdk;
}

/** Direct to `endpoint`, with `sdk` behind it. */
export function dynamoDbAt(endpoint: AwsServiceEndpoint, sdk: DynamoDbApi, clockOffsetMs: () => number = () => 0): RoutedDynamoDbApi {
  const target = { url: endpoint.endpoint ?? publicEndpoint('dynamodb', endpoint.region), region: endpoint.region, credentials: () => endpoint.credentials(), clockOffsetMs };
  return routedDynamoDbApi(new DirectDynamoDb(() => Promise.resolve(target)), sdk);
}
