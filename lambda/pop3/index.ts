/** The POP3 engine's public surface. Nothing here imports AWS. */
export { Pop3Client, type MessageOptions, type Pop3ConnectOptions, type TraceEvent } from './pop3-client';
export { openSession, chooseMechanism, AUTH_MECHANISMS, type AuthMechanismName, type Pop3SessionOptions } from './open-session';
export { MessageStream } from './message-stream';
export { MessageSizes } from './message-sizes';
export { Pop3Error, Pop3ErrorCode, isPop3Error } from './errors';
export type { Capabilities } from './capabilities';
export type { ServerPolicy } from './server-policy';
export type { UidlEntry, UidlListing, ListEntry, InvalidUidlEntry } from './listing';
export type { TlsMode, TlsOptions, TlsDetails } from './connect';
export type { ChannelBinding } from './channel-binding';
export { DotDecoder, encodeMultiline } from './dot-decoder';
export * as limits from './constants';
