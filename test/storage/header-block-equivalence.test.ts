/**
 * The header fingerprint and the metadata fields are computed by one-pass scans; stored
 * records hold fingerprints computed before, so the scans must give exactly what the
 * straightforward versions below (the code they replaced) give, on any bytes: CRLF, bare
 * LF, lone CR, blanks around names, folded lines, server-maintained fields in any case,
 * 8-bit bytes and encoded-words.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_HEADER_VALUE_CHARS,
  captureHeaderBlock,
  capturedBlockFingerprint,
  decodeEncodedWords,
  extractHeaderFields,
  headerFingerprint,
  toMetadataValue,
  type HeaderFields,
} from '../../lambda/storage/header-block';

const SERVER_MAINTAINED = new Set(['status', 'x-status', 'x-uidl', 'x-uid', 'x-keywords', 'x-mozilla-status', 'x-mozilla-status2', 'x-mozilla-keys', 'x-expire-timestamp', 'x-imap', 'x-imapbase', 'content-length', 'lines']);

function referenceFingerprint(headerBlock: Buffer): string {
  const text = captureHeaderBlock(headerBlock).toString('latin1').replace(/\r\n/g, '\n');
  const fields = text.split(/\n(?![ \t])/);
  const name = (field: string): string => {
    const colon = field.indexOf(':');
    return colon === -1 ? '' : field.slice(0, colon).trim().toLowerCase();
  };
  const normalised = fields.filter((field) => !SERVER_MAINTAINED.has(name(field))).join('\n').replace(/[ \t\r\n]+$/, '');
  return createHash('sha256').update(Buffer.from(normalised, 'latin1')).digest('hex');
}

const FIELD_NAMES: Readonly<Record<string, keyof HeaderFields>> = { 'message-id': 'messageId', date: 'date', from: 'from', subject: 'subject' };
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function referenceFields(headerBlock: Buffer): HeaderFields {
  const lines = headerBlock.toString('latin1').split(/\r?\n/);
  const unfolded: Array<[string, string]> = [];
  let current: [string, string] | undefined;
  for (const line of lines) {
    if (/^[ \t]/.test(line)) {
      if (current) current[1] += line;
      continue;
    }
    const match = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$/s.exec(line);
    current = match ? [match[1]!, match[2]!] : undefined;
    if (current) unfolded.push(current);
  }
  const fields: HeaderFields = {};
  for (const [name, rawValue] of unfolded) {
    const key = FIELD_NAMES[name.toLowerCase()];
    if (key === undefined || fields[key] !== undefined) continue;
    let decoded = rawValue;
    // eslint-disable-next-line no-control-regex -- a byte range, not a typo
    if (!/^[\x00-\x7f]*$/.test(rawValue)) {
      try {
        decoded = STRICT_UTF8.decode(Buffer.from(rawValue, 'latin1'));
      } catch {
        decoded = rawValue;
      }
    }
    const value = toMetadataValue(decodeEncodedWords(decoded), MAX_HEADER_VALUE_CHARS);
    if (value !== '') fields[key] = value;
  }
  return fields;
}

/**
 * The four fields the metadata reads. The replaced code looked names up in a plain object, so
 * `constructor:` or `__proto__:` also gave it a junk key beside them; the scan finds nothing there.
 */
function realFields(f: HeaderFields): HeaderFields {
  return { messageId: f.messageId, date: f.date, from: f.from, subject: f.subject };
}

/** Pieces header blocks are made of, the awkward ones often. */
const piece = fc.oneof(
  fc.constantFrom('\r\n', '\n', '\r', ' ', '\t', ':', ' : ', '\r\n ', '\n\t', '\r\n\r\n', '\n\n'),
  fc.constantFrom('Status', 'STATUS', 'x-UIDL', 'X-Mozilla-Status2', 'Content-Length', 'lines', 'X-IMAPbase', 'x-keywords'),
  fc.constantFrom('Subject', 'SUBJECT', 'From', 'from', 'Date', 'Message-ID', 'message-id', 'Received', 'To', 'X-Other', 'constructor', '__PROTO__', 'toString'),
  fc.constantFrom('=?utf-8?B?w6k=?=', '=?utf-8?Q?y?=', '=?iso-8859-1?Q?caf=E9?=', '=?utf-8?Q?a_b?= =?utf-8?Q?c?=', '%', 'caf\u00e9', '\u00c3\u00a9', '\u00a0', '\u00ff'),
  fc.string({ maxLength: 12 }),
  fc.stringMatching(/^[A-Za-z0-9 <>@.-]{0,20}$/),
);
const headerBlock = fc.array(piece, { maxLength: 40 }).map((pieces) => Buffer.from(pieces.join(''), 'latin1'));
/** Field-shaped blocks: what real headers mostly look like, with the same awkward pieces inside. */
const fieldLine = fc
  .tuple(fc.constantFrom('Status', 'x-uidl', 'Subject', 'From', 'Date', 'Message-ID', 'Received', 'X-A', 'Constructor', '__proto__', 'hasOwnProperty', ' =?utf-8?Q?z?=', '\t=?utf-8?B?w6k=?=', ' more'), fc.constantFrom(':', ' :', '\t:', ''), fc.array(piece, { maxLength: 4 }), fc.constantFrom('\r\n', '\n', '\r\n\t', '\n ', ''))
  .map(([name, colon, value, end]) => `${name}${colon}${value.join('')}${end}`);
const fieldBlock = fc.array(fieldLine, { maxLength: 12 }).map((lines) => Buffer.from(lines.join(''), 'latin1'));

describe('header block scans match the straightforward versions', () => {
  for (const [label, blocks] of [['arbitrary bytes', headerBlock], ['field-shaped blocks', fieldBlock]] as const) {
    it(`headerFingerprint (${label})`, () => {
      fc.assert(
        fc.property(blocks, (block) => {
          const expected = referenceFingerprint(block);
          expect(headerFingerprint(block)).toBe(expected);
          expect(capturedBlockFingerprint(captureHeaderBlock(block))).toBe(expected);
        }),
        { numRuns: 3_000, seed: 20261207 },
      );
    });

    it(`extractHeaderFields (${label})`, () => {
      fc.assert(
        fc.property(blocks, (block) => {
          expect(extractHeaderFields(block)).toEqual(realFields(referenceFields(block)));
        }),
        { numRuns: 3_000, seed: 20261207 },
      );
    });
  }

  it('fields named after Object.prototype members are fields like any other (found by a review)', () => {
    const block = Buffer.from('Constructor: a\r\n__proto__: b\r\nFrom: x@y\r\nDate: Mon\r\nSubject: hello\r\nMessage-ID: <id@x>\r\n', 'latin1');
    expect(extractHeaderFields(block)).toEqual({ from: 'x@y', date: 'Mon', subject: 'hello', messageId: '<id@x>' });
  });

  it('a dropped field takes its separator with it, wherever it stands', () => {
    for (const block of ['Status: RO\nA: 1\n', 'A: 1\nStatus: RO\nB: 2\n', 'A: 1\nX-UIDL: u\n', 'Status: RO\n', 'Status: RO\n\tcontinued\nA: 1\n', 'A: 1\r\nlines: 3\r\n']) {
      expect(headerFingerprint(Buffer.from(block, 'latin1'))).toBe(referenceFingerprint(Buffer.from(block, 'latin1')));
    }
    expect(headerFingerprint(Buffer.from('A: 1\nStatus: RO\nB: 2\n'))).toBe(headerFingerprint(Buffer.from('A: 1\nB: 2\n')));
  });
});
