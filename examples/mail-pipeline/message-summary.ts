/**
 * One stored message turned into the pipeline's output: the attachments (bytes, type, key)
 * and the JSON summary that lists them. Parsing is postal-mime's (MIME structure, transfer
 * encodings, RFC 2047/2231 names, charsets); this module only decides what goes where.
 * Pure and deterministic: the same message and event give the same bytes, which is what
 * makes a redelivered event harmless.
 */
import { createHash } from 'node:crypto';
import PostalMime, { type Address, type Attachment } from 'postal-mime';
import type { MailStoredDetail } from './mail-stored-event';
import { attachmentKey, summaryKey } from './output-layout';

/** Bump on any change of the summary a consumer could notice. */
export const SUMMARY_VERSION = '1';
/**
 * Longest text body kept in the summary, in UTF-16 code units (JavaScript string length);
 * longer ones are cut and `textTruncated` is true. The whole message stays in the source object.
 */
export const MAX_SUMMARY_TEXT_CHARS = 100_000;
/** Attachments written per message; the rest are counted in `attachmentsOmitted`. Bounds the PUTs a message can cause. */
export const MAX_ATTACHMENTS = 200;
/** The S3 Content-Type of an attachment whose declared type is malformed. */
const FALLBACK_CONTENT_TYPE = 'application/octet-stream';
const MEDIA_TYPE_PATTERN = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/;

export interface SummaryAddress {
  readonly name?: string;
  readonly address: string;
}

export interface SummaryAttachment {
  /** From 1, in message order; part of the key. */
  readonly index: number;
  /** As the message names it, decoded; null when it names none. */
  readonly filename: string | null;
  readonly contentType: string;
  /** `attachment`, `inline`, or null when the part has no Content-Disposition. */
  readonly disposition: string | null;
  readonly contentId: string | null;
  /** Decoded size in octets. */
  readonly size: number;
  /** SHA-256 (hex) of the decoded bytes, as written. */
  readonly sha256: string;
  /** Where the bytes are, in the output bucket. */
  readonly key: string;
}

export interface MailSummary {
  readonly summaryVersion: typeof SUMMARY_VERSION;
  readonly eventId: string;
  readonly mailbox: string;
  readonly source: { readonly bucket: string; readonly key: string; readonly size: number; readonly sha256: string };
  readonly from: SummaryAddress | null;
  readonly to: SummaryAddress[];
  readonly cc: SummaryAddress[];
  readonly subject: string | null;
  /** ISO 8601 when the Date header parses, else the header as written; null without one. */
  readonly date: string | null;
  readonly messageId: string | null;
  /** The text/plain body (postal-mime derives one from the HTML when there is none). */
  readonly text: string;
  readonly textTruncated: boolean;
  readonly hasHtml: boolean;
  readonly attachments: SummaryAttachment[];
  /** Attachments beyond MAX_ATTACHMENTS, not written. */
  readonly attachmentsOmitted: number;
}

export interface OutputObject {
  readonly key: string;
  readonly body: Buffer;
  readonly contentType: string;
}

export interface ParsedMessage {
  readonly summary: MailSummary;
  readonly summaryObject: OutputObject;
  readonly attachments: OutputObject[];
}

/** Parses the message and lays out its output under `folder` (output-layout.ts). */
export async function parseMessage(message: Buffer, detail: MailStoredDetail, folder: string): Promise<ParsedMessage> {
  const email = await PostalMime.parse(message, { attachmentEncoding: 'arraybuffer' });
  const kept = email.attachments.slice(0, MAX_ATTACHMENTS);
  const attachments = kept.map((a, i) => attachmentObject(a, i + 1, folder));
  const text = cutText(email.text ?? '');
  const summary: MailSummary = {
    summaryVersion: SUMMARY_VERSION,
    eventId: detail.eventId,
    mailbox: detail.mailbox,
    source: { bucket: detail.bucket, key: detail.key, size: detail.size, sha256: detail.sha256 },
    from: addresses(email.from ? [email.from] : undefined)[0] ?? null,
    to: addresses(email.to),
    cc: addresses(email.cc),
    subject: email.subject ?? null,
    date: email.date ?? null,
    messageId: email.messageId ?? null,
    text: text.value,
    textTruncated: text.truncated,
    hasHtml: email.html !== undefined && email.html !== '',
    attachments: kept.map((a, i) => summaryAttachment(a, attachments[i]!)),
    attachmentsOmitted: email.attachments.length - kept.length,
  };
  const summaryObject = { key: summaryKey(folder), body: Buffer.from(`${JSON.stringify(summary, null, 2)}\n`), contentType: 'application/json; charset=utf-8' };
  return { summary, summaryObject, attachments };
}

function attachmentObject(attachment: Attachment, index: number, folder: string): OutputObject & { readonly index: number } {
  const { content } = attachment;
  const body = typeof content === 'string' ? Buffer.from(content, attachment.encoding === 'base64' ? 'base64' : 'utf8') : Buffer.from(content instanceof ArrayBuffer ? new Uint8Array(content) : content);
  return { index, key: attachmentKey(folder, index, attachment.filename), body, contentType: mediaType(attachment.mimeType) };
}

function summaryAttachment(attachment: Attachment, object: OutputObject & { readonly index: number }): SummaryAttachment {
  return {
    index: object.index,
    filename: attachment.filename,
    contentType: object.contentType,
    disposition: attachment.disposition,
    contentId: attachment.contentId ?? null,
    size: object.body.length,
    sha256: createHash('sha256').update(object.body).digest('hex'),
    key: object.key,
  };
}

/** Groups flattened into their members; an empty display name left out. */
function addresses(list: Address[] | undefined): SummaryAddress[] {
  return (list ?? []).flatMap((entry) => entry.group ?? [entry]).map((m) => (m.name ? { name: m.name, address: m.address } : { address: m.address }));
}

function cutText(text: string): { value: string; truncated: boolean } {
  if (text.length <= MAX_SUMMARY_TEXT_CHARS) return { value: text, truncated: false };
  // Never end on half a surrogate pair: JSON would carry a lone surrogate.
  const cut = text.slice(0, MAX_SUMMARY_TEXT_CHARS).replace(/[\uD800-\uDBFF]$/, '');
  return { value: cut, truncated: true };
}

function mediaType(declared: string): string {
  const type = declared.trim().toLowerCase();
  return MEDIA_TYPE_PATTERN.test(type) ? type : FALLBACK_CONTENT_TYPE;
}
