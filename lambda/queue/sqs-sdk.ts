/**
 * The part of the SQS SDK the worker uses, imported lazily: only a run that defers sends a
 * message (queue-batch.ts). A dynamic `import()` of the SDK package itself would keep every
 * command of it in the Lambda bundle: bundlers cannot tell which names a dynamic import will use.
 */
export { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
