import { Pop3Error, Pop3ErrorCode, type Pop3Client, type UidlListing } from '../pop3';
import { SyncError, SyncErrorCode } from './errors';

export interface SessionListing {
  /** The UIDL listing; undefined when the server has no UIDL at all. */
  readonly listing: UidlListing | undefined;
  /** Message number -> size announced by LIST (held compactly, see MessageSizes). */
  readonly sizes: ReadonlyMap<number, number>;
}

/**
 * UIDL and LIST, sent together (one round trip when pipelining).
 *
 * A UIDL answered with -ERR means "no UIDL" only when the server says so: its CAPA list
 * leaves UIDL out, or (no CAPA) it never had one for this mailbox. Otherwise it is a
 * passing failure (a busy index): taking it for "no UIDL" would give every message a
 * fingerprint identity, a second object, and expire the real records. Then the session
 * ends with UIDL_UNAVAILABLE, before anything is planned, and the next run tries again.
 *
 * @param hadUidl whether earlier runs of this mailbox listed UIDLs (its summary exists)
 */
export async function readListing(client: Pop3Client, hadUidl: () => Promise<boolean>): Promise<SessionListing> {
  const uidl = client.uidl().then(
    (listing) => ({ listing, error: undefined }),
    (error: unknown) => ({ listing: undefined, error }),
  );
  const list = client.listSizes();
  const [{ listing, error }, sizes] = await Promise.all([uidl, list]);
  if (error === undefined) return { listing, sizes };
  if (!(error instanceof Pop3Error) || !isErrReply(error)) throw error;
  if (!(await uidlMissing(client, error, hadUidl))) {
    throw new SyncError(SyncErrorCode.UIDL_UNAVAILABLE, `the server answered UIDL with an error (${error.message}); it lists UIDLs otherwise, so nothing is fetched this time and the next run tries again`, error);
  }
  if (client.capabilities?.top === false && (client.capabilities?.lines.length ?? 0) > 0) {
    throw new Pop3Error(Pop3ErrorCode.UNSUPPORTED, 'the server supports neither UIDL nor TOP: messages cannot be tracked');
  }
  return { listing: undefined, sizes };
}

function isErrReply(err: Pop3Error): boolean {
  return err.code === Pop3ErrorCode.SERVER_ERROR || err.code === Pop3ErrorCode.SYS_TEMP || err.code === Pop3ErrorCode.IN_USE || err.code === Pop3ErrorCode.SYS_PERM;
}

async function uidlMissing(client: Pop3Client, err: Pop3Error, hadUidl: () => Promise<boolean>): Promise<boolean> {
  const caps = client.capabilities;
  if (caps && caps.lines.length > 0) return !caps.uidl;
  // No CAPA: a response code says it is a passing state; so does a UIDL seen before.
  if (err.responseCode !== undefined) return false;
  return !(await hadUidl());
}
