/**
 * Message bytes from a MailSpec: a header block fixed by (topic, seq), a body of the
 * chosen flavor, padded to the exact size. Every message ends with CRLF (the fake server
 * would add one otherwise, and the stored bytes would rightly differ from the spec's).
 */
import type { MailSpec } from './types';

const SENDERS = ['ann', 'bob', 'cid'] as const;
const FILLER = 'abcdefghij';

export function headerBlock(spec: Pick<MailSpec, 'topic' | 'seq'>): string {
  const t = spec.topic;
  return [
    `From: ${SENDERS[t % SENDERS.length]}@example.com`,
    'To: box@example.com',
    `Subject: topic ${t}`,
    `Date: Mon, 01 Jan 2024 00:00:${String(t % 60).padStart(2, '0')} +0000`,
    `Message-ID: <t${t}@model.test>`,
    // Not among the fields popa3d hashes: same topic, same UIDL; other seq, other header block.
    `X-Seq: ${String(spec.seq).padStart(4, '0')}`,
    '',
    '',
  ].join('\r\n');
}

function bodyCore(spec: MailSpec): string {
  const v = spec.body;
  switch (spec.flavor) {
    case 'plain':
      return `Hello ${v}\r\nsecond line\r\n`;
    case 'dots':
      return `.leading dot ${v}\r\n.\r\n..two dots\r\n`;
    case 'bare-lf':
      return `bare\nlf ${v}\r\nmixed\n\r\n`;
    case 'bare-lf-dot':
      return `line one ${v}\n.\r\nline three\r\n`;
    case 'bare-lf-dot-text':
      return `line one ${v}\n.dot after a bare LF\r\n`;
    case 'bare-lf-dot-late':
      return `line one ${v}\r\n`;
    case 'eight-bit':
      return `caf\xe9 ${v} \xff\x80\x00\r\n`;
  }
}

/** The last line of 'bare-lf-dot-late': the ambiguous "." comes within a few octets of the end. */
const LATE_TAIL = 'x\n.\r\nend\r\n';

export function mailBytes(spec: MailSpec): Buffer {
  const head = headerBlock(spec);
  const core = bodyCore(spec);
  const tail = spec.flavor === 'bare-lf-dot-late' ? LATE_TAIL : '';
  const fill = spec.size - head.length - core.length - tail.length - 2;
  const filler = fill > 0 ? `${FILLER[spec.body % FILLER.length]!.repeat(fill)}\r\n` : '';
  return Buffer.from(`${head}${core}${filler}${tail}`, 'latin1');
}

/** Smallest size mailBytes honours exactly for every flavor. */
export const MIN_MAIL_OCTETS = 220;
