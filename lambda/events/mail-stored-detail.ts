/**
 * The detail of a `Mail Stored` event: where a newly stored message is, and the header
 * fields pipelines route on, decoded to Unicode from the message's header block. Decoding
 * (RFC 2047 encoded words in any charset, RFC 2231 parameters, address lists, dates) is
 * postal-mime's, never ours; bytes it cannot decode come out as U+FFFD. Every value is cut
 * to a documented length and the whole detail to {@link MAX_DETAIL_OCTETS}, so ten events
 * always fit one PutEvents request (256 KB) whatever the message.
 */
import { createHash } from 'node:crypto';
import type { Address, Email, default as PostalMimeParser, decodeWords as decodeEncodedWords } from 'postal-mime';
import { MAX_HEADER_CAPTURE_OCTETS } from '../storage/header-block';

export const MAIL_STORED_SOURCE = 'mailfetch';
export const MAIL_STORED_DETAIL_TYPE = 'Mail Stored';
/** Bumped on any change a consumer could notice; additions of optional fields included. */
export const MAIL_STORED_DETAIL_VERSION = '1';

/** Longest text value (subject, names, ids) in characters; longer ones end in `…`. */
export const MAX_EVENT_TEXT_CHARS = 1_000;
/** Longest display name or address in characters (RFC 5321 allows 254 octets for a path). */
export const MAX_EVENT_ADDRESS_CHARS = 320;
/** Entries kept per address list (To, Cc, Reply-To) and of References. */
export const MAX_EVENT_LIST_ENTRIES = 50;
/** The whole detail as JSON, in UTF-8 octets: ten of them fit EventBridge's 256 KB per request. */
export const MAX_DETAIL_OCTETS = 24 * 1024;

export interface MailAddress {
  /** Display name, decoded; absent when there is none. */
  readonly name?: string;
  /** The address as written (EventBridge's `equals-ignore-case` and `suffix` match it). */
  readonly address: string;
}

export interface MailStoredDetail extends Omit<StoredMessageFacts, 'identity'> {
  readonly version: typeof MAIL_STORED_DETAIL_VERSION;
  /**
   * The same for the same message whatever the run that stored it or sent the event:
   * SHA-256 over mailbox, message identity and content. Consumers deduplicate on it.
   */
  readonly eventId: string;
  readonly from?: MailAddress;
  readonly to: MailAddress[];
  readonly cc: MailAddress[];
  readonly replyTo: MailAddress[];
  readonly subject?: string;
  /** ISO 8601 when the Date header parses; absent otherwise (see `dateHeader`). */
  readonly date?: string;
  /** The Date header as written. */
  readonly dateHeader?: string;
  readonly messageId?: string;
  readonly inReplyTo?: string;
  readonly references: string[];
  readonly listId?: string;
  /** RFC 3834: `auto-generated`, `auto-replied`... (`no` when the header says so). */
  readonly autoSubmitted?: string;
  /** Top-level media type, lower case (`text/plain` when the message names none). */
  readonly contentType: string;
  readonly multipart: boolean;
  /** As far as the top-level header says: multipart/mixed, or a single part that is an attachment. */
  readonly hasAttachments: boolean;
  /**
   * Fields cut to fit (a value shortened or list entries dropped), by name; `headers` when
   * the header block was longer than the 64 KiB read (the fields after that are absent).
   */
  readonly truncated: string[];
}

export interface StoredMessageFacts {
  readonly mailbox: string;
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** SHA-256 (hex) of the stored bytes. */
  readonly sha256: string;
  readonly uidl: string;
  /** The message's state key (its UIDL or a fingerprint identity); in the eventId, not in the detail. */
  readonly identity: string;
  readonly firstSeenAt: string;
  readonly storedAt: string;
}

/** The detail of one stored message, from its facts and its header block (at most 64 KiB). */
export async function mailStoredDetail(facts: StoredMessageFacts, headerBlock: Uint8Array): Promise<MailStoredDetail> {
  // Loaded by the first event, not by every cold start (a tenth of the bundle; most runs store nothing).
  const mime = await import('postal-mime');
  const email = await parseHeaderBlock(mime.default, headerBlock);
  const header = (name: string): string | undefined => email.headers.find((h) => h.key === name)?.value;
  const truncated = new Set<string>();
  // A capture that reached its limit ended inside the header block: the fields after it are missing.
  if (headerBlock.length >= MAX_HEADER_CAPTURE_OCTETS) truncated.add('headers');
  const text = (field: string, value: string | undefined, max = MAX_EVENT_TEXT_CHARS): string | undefined => {
    const clean = value === undefined ? undefined : printable(value);
    if (clean === undefined || clean === '') return undefined;
    if (clean.length <= max) return clean;
    truncated.add(field);
    return `${clean.slice(0, max - 1)}…`;
  };
  const list = (field: string, addresses: Address[] | undefined): MailAddress[] => {
    const flat = mailboxes(addresses, (value) => text(field, value, MAX_EVENT_ADDRESS_CHARS));
    if (flat.length > MAX_EVENT_LIST_ENTRIES) truncated.add(field);
    return flat.slice(0, MAX_EVENT_LIST_ENTRIES);
  };
  const contentType = mediaType(header('content-type'));
  const references = (email.references ?? '').split(/\s+/).filter((id) => id !== '');
  if (references.length > MAX_EVENT_LIST_ENTRIES) truncated.add('references');
  const dateHeader = text('dateHeader', header('date'));
  const detail: MailStoredDetail = {
    version: MAIL_STORED_DETAIL_VERSION,
    eventId: eventIdFor(facts),
    ...withoutIdentity(facts),
    ...optional('from', list('from', email.from ? [email.from] : undefined)[0]),
    to: list('to', email.to),
    cc: list('cc', email.cc),
    replyTo: list('replyTo', email.replyTo),
    ...optional('subject', text('subject', email.subject)),
    ...optional('date', isoDate(email.date)),
    ...optional('dateHeader', dateHeader),
    ...optional('messageId', text('messageId', email.messageId)),
    ...optional('inReplyTo', text('inReplyTo', email.inReplyTo)),
    references: references.slice(-MAX_EVENT_LIST_ENTRIES).map((id) => text('references', id)!),
    ...optional('listId', text('listId', decodedHeader(mime.decodeWords, header('list-id')))),
    ...optional('autoSubmitted', text('autoSubmitted', header('auto-submitted')?.split(';')[0]?.trim().toLowerCase())),
    contentType,
    multipart: contentType.startsWith('multipart/'),
    hasAttachments: contentType === 'multipart/mixed' || email.attachments.some((a) => a.disposition === 'attachment') || isAttachmentType(contentType),
    truncated: [],
  };
  return fitDetail({ ...detail, truncated: [...truncated] });
}

function withoutIdentity({ identity: _identity, ...rest }: StoredMessageFacts): Omit<StoredMessageFacts, 'identity'> {
  return rest;
}

/** The idempotency id of a message's event: the same across re-fetches (same identity and bytes) and re-sends. */
export function eventIdFor(facts: Pick<StoredMessageFacts, 'mailbox' | 'identity' | 'sha256'>): string {
  return createHash('sha256').update(`${facts.mailbox}\0${facts.identity}\0${facts.sha256}`, 'utf8').digest('hex');
}

/** postal-mime over the header block and an empty body: it parses headers the way it parses whole messages. */
async function parseHeaderBlock(PostalMime: typeof PostalMimeParser, headerBlock: Uint8Array): Promise<Email> {
  const terminated = Buffer.concat([Buffer.from(headerBlock), Buffer.from('\r\n\r\n')]);
  try {
    return await PostalMime.parse(terminated);
  } catch {
    // A header block postal-mime refuses (beyond its limits): route on nothing rather than fail the message.
    return { headers: [], headerLines: [], attachments: [] };
  }
}

function mailboxes(addresses: Address[] | undefined, cut: (value: string) => string | undefined): MailAddress[] {
  const out: MailAddress[] = [];
  for (const entry of addresses ?? []) {
    for (const mailbox of entry.group ?? [entry]) {
      const address = cut(mailbox.address ?? '');
      if (address === undefined) continue;
      const name = cut(mailbox.name);
      out.push(name === undefined ? { address } : { name, address });
    }
  }
  return out;
}

/** Control characters out (a header value is one line); tabs become blanks. */
function printable(value: string): string {
  return value.replace(/\t/g, ' ').replace(/\p{Cc}/gu, '').trim();
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function isoDate(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time).toISOString();
}

/** List-Id may carry encoded words in its phrase; decodeWords is postal-mime's. */
function decodedHeader(decodeWords: typeof decodeEncodedWords, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  return decodeWords(value);
}

/** `multipart/mixed; boundary=...` -> `multipart/mixed`; RFC 2045's default when absent or malformed. */
function mediaType(value: string | undefined): string {
  const type = value?.split(';')[0]?.trim().toLowerCase() ?? '';
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : 'text/plain';
}

/** A single-part message whose one part is not text (a bare PDF, an image...). */
function isAttachmentType(type: string): boolean {
  return !type.startsWith('text/') && !type.startsWith('multipart/') && type !== 'message/rfc822';
}

/**
 * Cuts the detail until its JSON fits MAX_DETAIL_OCTETS: one entry at a time from the
 * longest list (addresses from the end, References from the start: the last ones name the
 * closest ancestors), then the subject. Values are already bounded, so this ends.
 */
function fitDetail(detail: MailStoredDetail): MailStoredDetail {
  const out = { ...detail, to: [...detail.to], cc: [...detail.cc], replyTo: [...detail.replyTo], references: [...detail.references], truncated: [...detail.truncated] };
  const mark = (field: string): void => {
    if (!out.truncated.includes(field)) out.truncated.push(field);
  };
  const lists = ['cc', 'to', 'replyTo', 'references'] as const;
  while (Buffer.byteLength(JSON.stringify(out)) > MAX_DETAIL_OCTETS) {
    const longest = lists.reduce((a, b) => (out[b].length > out[a].length ? b : a));
    if (out[longest].length > 0) {
      if (longest === 'references') out.references.shift();
      else out[longest].pop();
      mark(longest);
    } else if (out.subject !== undefined && out.subject.length > 1) {
      out.subject = `${out.subject.slice(0, Math.floor(out.subject.length / 2))}…`;
      mark('subject');
    } else {
      break;
    }
  }
  return out;
}
