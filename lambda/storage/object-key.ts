/**
 * Deterministic S3 keys for stored messages: `<prefix><mailboxId>/<encoded identity>.eml`.
 *
 * The identity (a UIDL or a fingerprint identity) is untrusted server data, so it is
 * escaped byte by byte: [A-Za-z0-9_-] stay as they are, every other byte of its UTF-8 form
 * becomes `~XX` (uppercase hex). The result has no '/', no '.', no '%' and no leading dot,
 * so `..`, `/` or `.hidden` cannot create path tricks in tools that map keys to files.
 *
 * Why the mapping is injective: '~' is itself escaped, so in an encoded identity every
 * '~' starts an escape and is followed by exactly two uppercase hex digits; decoding is
 * therefore unambiguous, and UTF-8 is injective on well-formed strings (ill-formed ones,
 * with lone surrogates, are refused because UTF-8 cannot represent them).
 *
 * Long identities are hashed: `~sha256-<64 lowercase hex>`. That form can never be the
 * encoding of another identity, because there '~' is followed by 's', not a hex digit.
 */
import { createHash } from 'node:crypto';
import { invalidInput } from './errors';

/** Longest encoded identity used verbatim; longer ones are hashed. Keeps keys far below S3's 1,024 bytes. */
export const MAX_ENCODED_IDENTITY_CHARS = 200;
/** The object name prefix of a hashed identity; '~s' never occurs in an escaped identity. */
export const HASHED_IDENTITY_PREFIX = '~sha256-';
export const MESSAGE_OBJECT_SUFFIX = '.eml';
/** The key prefix of every sink unless configured otherwise. */
export const DEFAULT_PREFIX = 'messages/';

const ESCAPE_CHAR = '~';
/** Bytes kept as they are: unreserved in URLs, safe in every file system and shell. */
const KEPT_BYTE = /^[A-Za-z0-9_-]$/;
/** Validated elsewhere (config); checked again here because key safety depends on it. */
const MAILBOX_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const LONE_SURROGATE = /\p{Cs}/u;
/** ignoreBOM: a leading U+FEFF is part of the identity, not a byte-order mark to drop. */
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The object key of a message: the same for the same (prefix, mailbox, identity) on every run.
 * @throws StorageError INVALID_INPUT for a malformed mailbox id or an empty or ill-formed identity.
 */
export function objectKeyFor(prefix: string, mailboxId: string, identity: string): string {
  if (!MAILBOX_ID_PATTERN.test(mailboxId) || mailboxId === '.' || mailboxId === '..') {
    throw invalidInput(`invalid mailbox id for an object key: ${JSON.stringify(mailboxId.slice(0, 80))}`);
  }
  return `${prefix}${mailboxId}/${objectNameFor(identity)}${MESSAGE_OBJECT_SUFFIX}`;
}

/** The identity's part of the key: its escaped form, or its hashed form when that is too long. */
export function objectNameFor(identity: string): string {
  if (identity.length === 0) throw invalidInput('empty message identity');
  if (LONE_SURROGATE.test(identity)) throw invalidInput('message identity is not well-formed Unicode');
  const encoded = encodeIdentity(identity);
  return encoded.length > MAX_ENCODED_IDENTITY_CHARS ? hashedName(identity) : encoded;
}

/**
 * The inverse of the escaping: the identity an encoded name stands for, or `undefined` for
 * a hashed name (one-way) and for anything this module would not have produced.
 */
export function decodeIdentity(encoded: string): string | undefined {
  if (encoded.length === 0 || encoded.length > MAX_ENCODED_IDENTITY_CHARS) return undefined;
  if (encoded.startsWith(HASHED_IDENTITY_PREFIX)) return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    const ch = encoded[i]!;
    if (ch === ESCAPE_CHAR) {
      const hex = encoded.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (KEPT_BYTE.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  const identity = decodeStrictUtf8(Uint8Array.from(bytes));
  // Only canonical encodings decode: an escaped byte that should have been kept is foreign input.
  return identity !== undefined && encodeIdentity(identity) === encoded ? identity : undefined;
}

/** An identity of kept characters only (most UIDLs) is its own encoding. */
const ALL_KEPT = /^[A-Za-z0-9_-]*$/;

function encodeIdentity(identity: string): string {
  if (ALL_KEPT.test(identity)) return identity;
  let out = '';
  for (const byte of Buffer.from(identity, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += KEPT_BYTE.test(ch) ? ch : `${ESCAPE_CHAR}${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function hashedName(identity: string): string {
  return HASHED_IDENTITY_PREFIX + createHash('sha256').update(identity, 'utf8').digest('hex');
}

function decodeStrictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}
