import type { Readable } from 'node:stream';

/**
 * Where message bytes go. The orchestration depends only on this interface;
 * `s3-message-sink.ts` is the adapter.
 */
export interface StoreMessageInput {
  readonly mailboxId: string;
  /** The state identity of the message (UIDL or fingerprint identity); decides the key. */
  readonly identity: string;
  readonly uid: string;
  /** The exact message bytes, streamed. */
  readonly body: Readable;
  /** Size announced by LIST (a hint: decides single PUT vs multipart up front). */
  readonly sizeHint: number;
  /** ISO time the message was first seen. */
  readonly firstSeenAt: string;
}

export interface StoredMessage {
  readonly key: string;
  readonly size: number;
  /** SHA-256 (hex) of the bytes stored. */
  readonly sha256: string;
  /** SHA-256 (hex) of the header block with line ends normalised (see headerFingerprint). */
  readonly headerFingerprint: string;
  /** SHA-256 (hex) of the body after the header block (absent when no header end was found). */
  readonly bodySha256?: string;
  /** The header block (at most MAX_HEADER_CAPTURE_OCTETS): what events are made from. */
  readonly headerBlock: Buffer;
}

export interface MessageSink {
  /** The deterministic object key for (mailbox, identity): the same on every re-fetch. */
  objectKey(mailboxId: string, identity: string): string;
  /**
   * Stores the message atomically under its key: either the whole object exists afterwards
   * or nothing new does (a failed multipart upload is aborted). Overwrites an existing
   * object with the same key (a re-fetch after a crash).
   */
  store(input: StoreMessageInput): Promise<StoredMessage>;
  /**
   * The header block of the object stored under `key` (read from its first
   * MAX_HEADER_CAPTURE_OCTETS only), or undefined when there is no such object: how an
   * event that could not be published is made again in a later run.
   */
  readHeaderBlock(key: string): Promise<Buffer | undefined>;
}
