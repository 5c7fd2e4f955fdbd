/**
 * The AWS SDK adapter of the DynamoDB port. The SDK's module (about 100 ms of CPU to load
 * and ready on Lambda's Node) is imported by the first request, not by this module: a
 * process whose requests all go the direct way never loads it (the bundles keep it in a
 * chunk of its own).
 */
import type * as DynamoDbSdk from './dynamodb-sdk';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { clientOf, once, type ClientSource } from '../client-source';
import { isSdkClient, type DynamoDbApi, type DynamoDbInput, type DynamoDbOperation, type DynamoDbOutput, type DynamoDbSendOptions, type DynamoDbTarget } from './dynamodb-api';

type SdkModule = typeof DynamoDbSdk;

/** The SDK's module, loaded by the first call. */
export const dynamoDbSdk = once((): Promise<SdkModule> => import('./dynamodb-sdk'));

/** Sends each request as the SDK command of the same name, through `client` (made on first use when it is a function). */
export function sdkDynamoDbApi(client: ClientSource<DynamoDBClient>): DynamoDbApi {
  return {
    async send<O extends DynamoDbOperation>(operation: O, input: DynamoDbInput<O>, options: DynamoDbSendOptions = {}): Promise<DynamoDbOutput<O>> {
      const [sdk, sdkClient] = await Promise.all([dynamoDbSdk(), clientOf(client)]);
      const Command = sdk[`${operation}Command`] as unknown as new (input: DynamoDbInput<O>) => Parameters<DynamoDBClient['send']>[0];
      const sent = options.abortSignal ? { abortSignal: options.abortSignal } : {};
      return (await sdkClient.send(new Command(input), sent)) as DynamoDbOutput<O>;
    },
  };
}

/** The port for what a store was given: the port itself, or an SDK client to send through. */
export function dynamoDbApiOf(target: DynamoDbTarget): DynamoDbApi {
  return isSdkClient(target) ? sdkDynamoDbApi(target) : target;
}
