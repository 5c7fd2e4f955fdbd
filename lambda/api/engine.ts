/**
 * `mailfetch/engine`: one run of one mailbox, with its ports and their AWS adapters, for
 * running the worker somewhere else than the package's Lambda functions. Clients are
 * injected: `runMailbox({ state, sink, openSession }, { mailbox, deadline })`.
 */
export { runMailbox, DEFAULT_SAFETY_MARGIN_MS, MAX_SESSIONS_PER_RUN, type RunMailboxDeps, type RunMailboxOptions } from '../sync/run-mailbox';
export type { RunError, RunSummary, SkippedMessage } from '../sync/run-summary';
export { createSessionOpener, sessionOptions, type SessionOpenerDeps } from '../sync/session-opener';
export type { ConsumedCapacity, MailboxSummary, MessageRecord, RecordStatus, StateStore } from '../state/state-store';
export { DynamoDbStateStore, type DynamoDbStateStoreOptions } from '../state/dynamodb-state-store';
export { createTableInput, ensureTable } from '../state/table-schema';
export type { MessageSink, StoreMessageInput, StoredMessage } from '../storage/message-sink';
export { S3MessageSink, type S3MessageSinkOptions } from '../storage/s3-message-sink';
export { SecretResolver, type SecretResolverOptions } from '../credentials/secret-resolver';
export { OAuthTokenProvider, type OAuthTokenProviderOptions } from '../credentials/oauth-token-provider';
export { MailfetchError, isMailfetchError } from '../errors';
