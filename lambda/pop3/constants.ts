/**
 * Limits and timeouts of the POP3 engine. Every value is a default that a caller can
 * override through {@link Pop3ClientOptions}; the unit is part of the name.
 */

/** Standard ports (RFC 1939, RFC 8314). */
export const POP3_PORT = 110;
export const POP3S_PORT = 995;

/** TCP (and, for implicit TLS, the TLS handshake) must complete within this. */
export const CONNECT_TIMEOUT_MS = 15_000;
/** The server's greeting must arrive within this after the connection is up. */
export const GREETING_TIMEOUT_MS = 30_000;
/**
 * No byte received for this long while a reply is pending fails the session. RFC 1939
 * lets servers auto-logout after 10 minutes of inactivity, so a healthy server is never
 * that quiet mid-reply; 60 s catches stalls quickly without hurting slow links.
 */
export const IDLE_TIMEOUT_MS = 60_000;
/** Upper bound for the whole session unless the caller gives a deadline or AbortSignal. */
export const SESSION_TIMEOUT_MS = 15 * 60_000;
/** Grace period for QUIT's reply before the socket is simply closed. */
export const QUIT_TIMEOUT_MS = 5_000;
/**
 * Reading and discarding the rest of a message nobody wants (over the size limit, or the
 * consumer gave up) may take this long; after it, closing the connection and opening a
 * new session is cheaper than waiting on.
 */
export const DRAIN_TIMEOUT_MS = 30_000;

/**
 * RFC 1939 says a response line is at most 512 octets (incl. CRLF); RFC 2449 allows
 * longer lines in some replies and real servers exceed it (long CAPA IMPLEMENTATION
 * lines, verbose -ERR texts). Accept up to this bound, then fail: the bound protects
 * memory against a server that never sends a line end.
 */
export const MAX_LINE_OCTETS = 8_192;
/** RFC 2449: a command line is at most 255 octets including CRLF; SASL responses are exempt. */
export const MAX_COMMAND_OCTETS = 255;
/** RFC 1939 says a unique-id is 1..70 characters; some servers send longer ones. Longer than this fails. */
export const MAX_UID_OCTETS = 512;
/** RFC 1939's own limit, reported as a warning (not an error) when exceeded. */
export const RFC_MAX_UID_OCTETS = 70;
/** Default maximum size of one message; larger messages fail with MESSAGE_TOO_LARGE. */
export const MAX_MESSAGE_OCTETS = 100 * 1024 * 1024;
/**
 * A listing (UIDL/LIST) with more entries than this is refused as hostile. No POP3 maildrop
 * in use holds a million messages (Gmail lists 250 at a time), and this bound, with the
 * octet bound below, keeps both listings of a session far inside a 512 MB Lambda.
 */
export const MAX_LISTING_ENTRIES = 1_000_000;
/**
 * Octets of one listing line as RFC 1939 allows it: a message number of up to 10 digits,
 * a space, a unique-id of up to 70 characters, CRLF. Used only to size the reply bound below.
 */
export const MAX_LISTING_LINE_OCTETS = 10 + 1 + 70 + 2;
/**
 * A whole UIDL or LIST reply may hold at most this many octets (83 MB): as many RFC-sized
 * lines as MAX_LISTING_ENTRIES allows. Bounding lines alone let 5M lines of 8 KiB each
 * through (40 GB).
 */
export const MAX_LISTING_OCTETS = MAX_LISTING_ENTRIES * MAX_LISTING_LINE_OCTETS;
/**
 * CAPA (and the mechanism list of a bare AUTH) is a few dozen short lines on every server
 * we know; mpop stops reading it at a similar bound. More is a hostile or broken server.
 */
export const MAX_CAPA_LINES = 256;
/** Octets of a whole CAPA / AUTH listing reply; 256 lines of 256 octets. */
export const MAX_CAPA_OCTETS = 64 * 1024;
/**
 * The rest of an unwanted message is discarded only up to this many octets; past it the
 * connection is closed instead (reconnecting costs a second, reading 64 MiB more costs many).
 */
export const MAX_DRAIN_OCTETS = 64 * 1024 * 1024;
/**
 * A message that ends well short of its LIST size is reported as MESSAGE_INCOMPLETE when
 * fewer than `size x INCOMPLETE_TOLERANCE_RATIO - INCOMPLETE_TOLERANCE_OCTETS` octets
 * arrived. LIST sizes are estimates on some servers (Microsoft 365; LF-counting servers
 * announce less than they send, others more), so only a large shortfall counts.
 */
export const INCOMPLETE_TOLERANCE_RATIO = 0.75;
export const INCOMPLETE_TOLERANCE_OCTETS = 4_096;

/**
 * Pipelining window (RFC 2449 PIPELINING). mpop keeps up to 100 commands outstanding and
 * refills when 20 remain; the same numbers keep both sides' socket buffers from
 * deadlocking (we always read while we write) and hide the round-trip time.
 */
export const PIPELINE_MAX_OUTSTANDING = 100;
export const PIPELINE_REFILL_AT = 20;

/** Minimum TLS version; TLS 1.0/1.1 are deprecated (RFC 8996). */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** High-water mark of message streams: how much decoded data may wait for the consumer. */
export const MESSAGE_STREAM_HIGH_WATER_MARK_OCTETS = 64 * 1024;
