/**
 * UIDL state: what was stored per mailbox, the per-mailbox summary that keeps the
 * steady state O(new), and the run lease. The orchestration depends only on this
 * interface; `dynamodb-state-store.ts` is the adapter.
 */

/**
 * How a message was settled. `baseline`: recorded as seen without fetching it. `failed`:
 * not settled: a fetch whose bytes could not be trusted (see `attempts`); retried by later
 * runs, then given up as `skipped`. `pending`: not settled: written before the object of a
 * derived identity (see README) may exist, so that a crash between store and record leaves
 * a record that the next run resolves the message to (the same key), whatever the listing
 * looks like by then.
 */
/** What one putStoredRecords call takes: DynamoDB's BatchWriteItem limit. */
export const MAX_STORED_RECORDS_PER_CALL = 25;

export type RecordStatus = 'stored' | 'skipped' | 'baseline' | 'failed' | 'pending';

export interface MessageRecord {
  /** The state key of the message: the UIDL, or a fingerprint identity (see README). */
  readonly identity: string;
  /** The UIDL as listed (may equal identity). */
  readonly uid: string;
  readonly status: RecordStatus;
  /** S3 key of the stored object (status `stored`). */
  readonly objectKey?: string;
  /** Octets stored (or, for skipped/baseline/failed, as listed). */
  readonly size: number;
  /**
   * Size LIST announced when the message was settled: a server that recycles UIDLs is
   * caught when the same UIDL comes back with another size.
   */
  readonly listSize?: number;
  /**
   * Status `baseline`: how many further copies of it (the same UIDL and header block) the
   * listing held when the baseline was taken. Later copies arrived after it: new mail.
   */
  readonly baselineCopies?: number;
  /** Fetches of this message that ended in an integrity failure (status `failed`, or `skipped` after the last). */
  readonly attempts?: number;
  /** SHA-256 (hex) of the stored bytes. */
  readonly sha256?: string;
  /** SHA-256 (hex) of the stored message's body (after the header block). */
  readonly bodySha256?: string;
  /** Fingerprint of the header block (hex), to tell apart messages that share a UIDL. */
  readonly headerFingerprint?: string;
  /** ISO time when the message was first seen (kept across re-fetches). */
  readonly firstSeenAt: string;
  readonly storedAt?: string;
  /** Why it was skipped or failed (status `skipped`/`failed`), e.g. `too-large`, `incomplete`. */
  readonly skipReason?: string;
  /** ISO time from which the message may be deleted on the server (deleteAfterDays). */
  readonly deleteAfter?: string;
  /** ISO time when a QUIT confirmed its deletion on the server. */
  readonly deletedAt?: string;
  /**
   * Read only: when the record expires (epoch seconds, the table's TTL). Set for records of
   * messages that left the server unstored; putRecord and markDeleted clear it.
   */
  readonly expiresAt?: number;
}

/**
 * The listing as last seen: the first `count` valid UIDLs of the server's listing (in
 * order, after this run's deletions) were all settled, and `listingHash` is the SHA-256 of
 * exactly those UIDLs. A listing that starts with the same `count` UIDLs has only appended mail.
 */
export interface MailboxSummary {
  readonly count: number;
  readonly listingHash: string;
  readonly updatedAt: string;
  /**
   * The mailbox has (or had) messages kept under fingerprint identities (a server that
   * shares or reuses UIDLs). Sticky: then new UIDLs are also checked against them.
   */
  readonly fingerprintIdentities?: boolean;
  /**
   * Header fingerprint of the last message of the settled prefix. New mail is appended, so
   * if that message is still the same, the whole prefix is: a UIDL recycled for new mail
   * with the same size (invisible to the hash) shows up here.
   */
  readonly lastFingerprint?: string;
  /**
   * ISO time of the last header audit: a full diff that compared every recorded message's
   * LIST size and header fingerprint with the listing (see HEADER_AUDIT_INTERVAL_MS).
   */
  readonly auditedAt?: string;
}

/**
 * Who holds a run lease, written with it: a run that finds the mailbox busy names the
 * holder, and `mailfetch unlock` decides from it whether the holder can still be running.
 */
export interface LeaseHolder {
  /** For humans, e.g. `mailfetch fetch (pid 4242 on build-1)`. */
  readonly description: string;
  /** The host a command-line run holds it from: with `pid`, its liveness can be checked there. */
  readonly host?: string;
  readonly pid?: number;
}

/** The run lease of a mailbox as stored. */
export interface Lease {
  /** The holder's run id (what releaseLease must be given). */
  readonly owner: string;
  /** Epoch ms after which another run may take the lease over. */
  readonly expiresAtMs: number;
  /** Epoch ms when it was taken (leases written by older versions lack it). */
  readonly acquiredAtMs?: number;
  /** Absent for leases written without one (older versions). */
  readonly holder?: LeaseHolder;
}

/** DynamoDB capacity consumed through the store (read and write units). */
export interface ConsumedCapacity {
  readonly readUnits: number;
  readonly writeUnits: number;
}

export interface StateStore {
  /** Takes the run lease: succeeds when free, expired, or already ours. `holder` is stored with it. */
  acquireLease(mailboxId: string, owner: string, nowMs: number, ttlMs: number, holder?: LeaseHolder): Promise<boolean>;
  /** Releases the lease if still ours (`owner` as read by getLease frees a dead holder's). */
  releaseLease(mailboxId: string, owner: string): Promise<void>;
  /** The lease as stored, expired or not; undefined when nobody holds it. */
  getLease(mailboxId: string): Promise<Lease | undefined>;

  getSummary(mailboxId: string): Promise<MailboxSummary | undefined>;
  putSummary(mailboxId: string, summary: MailboxSummary): Promise<void>;

  /** Records for these identities (missing ones are absent from the map). Reads O(identities). */
  getRecords(mailboxId: string, identities: readonly string[]): Promise<Map<string, MessageRecord>>;
  /** Records whose identity starts with `identityPrefix`. Reads O(those). */
  listRecordsByIdentityPrefix(mailboxId: string, identityPrefix: string): Promise<MessageRecord[]>;
  /** Every record of the mailbox (the full-diff fallback). Reads O(mailbox). */
  listRecords(mailboxId: string): AsyncIterable<MessageRecord>;
  /**
   * Records a settled message. A `stored` record replaces anything but another `stored`
   * one (conditional write); returns false when a `stored` record already existed.
   */
  putRecord(mailboxId: string, record: MessageRecord): Promise<boolean>;
  /**
   * Records messages that were just stored (status `stored`), up to
   * {@link MAX_STORED_RECORDS_PER_CALL} in one request: resolves once every one is durable,
   * or rejects and none may be relied on. Unconditional, unlike putRecord: the run holds
   * the lease and found no `stored` record for these identities. That holds only while the
   * run does: once `signal` aborts (the session stopped at its deadline, before the lease
   * goes to a successor) nothing more is sent, no retry either, and the request in flight is
   * abandoned, so a late write cannot land over a successor's records (its deletion marks).
   */
  putStoredRecords(mailboxId: string, records: readonly MessageRecord[], options?: { readonly signal?: AbortSignal }): Promise<void>;
  /**
   * Marks messages as gone from the server (our DELE, confirmed by QUIT, or another
   * client's). Their records stay as tombstones, without expiry: the object key is derived
   * from the identity, and a server that recycles UIDLs may give a later message this one's
   * UIDL; the tombstone is what makes that message get an identity (and key) of its own.
   */
  markDeleted(mailboxId: string, identities: readonly string[], deletedAt: string): Promise<void>;
  /**
   * The server now announces another LIST size for a stored message whose content was
   * checked to be the recorded one (a server that rewrites its own header fields): later
   * runs compare against this size instead of checking the content again.
   */
  noteListSize(mailboxId: string, identity: string, listSize: number): Promise<void>;
  /**
   * Garbage collection: records of messages that left the server and were never stored
   * (skipped, baselined, failed) expire after `retainDays`.
   */
  expireRecords(mailboxId: string, identities: readonly string[], nowIso: string, retainDays: number): Promise<void>;
  /** Stored records whose deleteAfter is at or before `nowIso` and not yet deleted. Reads O(due). */
  listDueDeletions(mailboxId: string, nowIso: string): Promise<MessageRecord[]>;
  /** Removes every item of the mailbox (records, summary, lease). Returns the number removed. */
  resetMailbox(mailboxId: string): Promise<number>;

  /** Capacity consumed since the store was created (or since `resetCapacity`). */
  consumedCapacity(): ConsumedCapacity;
  resetCapacity(): void;
}
