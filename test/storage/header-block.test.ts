import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HeaderCapture,
  MAX_HEADER_CAPTURE_OCTETS,
  MAX_HEADER_VALUE_CHARS,
  captureHeaderBlock,
  decodeEncodedWords,
  extractHeaderFields,
  headerFingerprint,
  toMetadataValue,
} from '../../lambda/storage/header-block';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

const HEADERS_CRLF =
  'Return-Path: <a@example.org>\r\n' +
  'Received: from mx by pop\r\n\tid 42; Mon, 1 Jan 2024 10:00:00 +0000\r\n' +
  'Message-ID: <m1@example.org>\r\n' +
  'Subject: hello\r\n';
const MESSAGE_CRLF = `${HEADERS_CRLF}\r\nbody line 1\r\n\r\nbody after an empty line\r\n`;

/** Captures `message` fed in the given chunk sizes (cycled). */
function captureInChunks(message: Buffer, sizes: number[]): HeaderCapture {
  const capture = new HeaderCapture();
  let position = 0;
  for (let k = 0; position < message.length; k++) {
    const size = Math.max(1, sizes[k % sizes.length]!);
    capture.update(message.subarray(position, position + size));
    position += size;
  }
  return capture;
}

describe('HeaderCapture', () => {
  it('captures up to, not including, the empty line (CRLF), keeping the last header line end', () => {
    const capture = captureInChunks(b(MESSAGE_CRLF), [MESSAGE_CRLF.length]);
    expect(capture.complete).toBe(true);
    expect(capture.headerBlock().toString('latin1')).toBe(HEADERS_CRLF);
  });

  it('finds the empty line at every split point of the message (two chunks)', () => {
    const message = b(MESSAGE_CRLF);
    for (let split = 0; split <= message.length; split++) {
      const capture = new HeaderCapture();
      capture.update(message.subarray(0, split));
      capture.update(message.subarray(split));
      expect(capture.headerBlock().toString('latin1'), `split at ${split}`).toBe(HEADERS_CRLF);
    }
  });

  it('finds the empty line with LF line ends and with byte-sized chunks', () => {
    const headers = HEADERS_CRLF.replace(/\r\n/g, '\n');
    const capture = captureInChunks(b(`${headers}\nbody\n\nmore\n`), [1]);
    expect(capture.headerBlock().toString('latin1')).toBe(headers);
  });

  it('finds the empty line for any chunking (property)', () => {
    const message = b(MESSAGE_CRLF);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 20 }), (sizes) => {
        expect(captureInChunks(message, sizes).headerBlock().toString('latin1')).toBe(HEADERS_CRLF);
      }),
    );
  });

  it('does not mistake a line that starts with CR, or CR CR LF, for the empty line', () => {
    const headers = 'A: 1\r\n\rX: odd\r\nB: 2\r\r\nC: 3\r\n';
    expect(captureHeaderBlock(b(`${headers}\r\nbody`)).toString('latin1')).toBe(headers);
  });

  it('gives an empty block for a message that starts with the empty line', () => {
    expect(captureHeaderBlock(b('\r\nbody only')).length).toBe(0);
    expect(captureHeaderBlock(b('\nbody only')).length).toBe(0);
  });

  it('keeps everything when the message has no empty line, and stops at the capture limit', () => {
    expect(captureHeaderBlock(b('Subject: only headers\r\n')).toString('latin1')).toBe('Subject: only headers\r\n');

    const huge = Buffer.alloc(MAX_HEADER_CAPTURE_OCTETS * 2, 'x');
    const capture = captureInChunks(huge, [10_000]);
    expect(capture.done).toBe(true);
    expect(capture.complete).toBe(false);
    expect(capture.headerBlock().length).toBe(MAX_HEADER_CAPTURE_OCTETS);
  });

  it('ignores chunks after the block was found', () => {
    const capture = new HeaderCapture();
    capture.update(b('A: 1\r\n\r\n'));
    capture.update(b('B: 2\r\n\r\n'));
    expect(capture.headerBlock().toString('latin1')).toBe('A: 1\r\n');
  });
});

describe('headerFingerprint', () => {
  it('is the same for TOP n 0 output, the block captured from RETR, and the whole message', () => {
    const topOutput = b(`${HEADERS_CRLF}\r\n`); // TOP n 0: the headers, the empty line, nothing more
    const retrBlock = captureInChunks(b(MESSAGE_CRLF), [7]).headerBlock();
    const fingerprint = headerFingerprint(retrBlock);
    expect(fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(headerFingerprint(topOutput)).toBe(fingerprint);
    expect(headerFingerprint(b(MESSAGE_CRLF))).toBe(fingerprint);
  });

  it('ignores CRLF versus LF line ends and trailing whitespace, but not content', () => {
    const fingerprint = headerFingerprint(b(HEADERS_CRLF));
    expect(headerFingerprint(b(HEADERS_CRLF.replace(/\r\n/g, '\n')))).toBe(fingerprint);
    expect(headerFingerprint(b(`${HEADERS_CRLF} \t`))).toBe(fingerprint);
    expect(headerFingerprint(b(HEADERS_CRLF.replace('hello', 'hellO')))).not.toBe(fingerprint);
  });

  it('keeps a trailing byte 0xA0 (part of a UTF-8 character, not whitespace)', () => {
    const withA0 = Buffer.concat([b('Subject: '), Buffer.from('à', 'utf8')]);
    const without = Buffer.concat([b('Subject: '), Buffer.from([0xc3])]);
    expect(headerFingerprint(withA0)).not.toBe(headerFingerprint(without));
  });
});

describe('extractHeaderFields', () => {
  it('unfolds a folded Subject and takes the first occurrence of each field', () => {
    const block = b(
      'From: Alice <alice@example.org>\r\n' +
        'Subject: a long\r\n subject\r\n\tfolded\r\n' +
        'Subject: second subject\r\n' +
        'Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n' +
        'message-id:   <m1@example.org>  \r\n',
    );
    expect(extractHeaderFields(block)).toEqual({
      from: 'Alice <alice@example.org>',
      subject: 'a long subject folded', // the tab of the fold becomes a space
      date: 'Mon, 1 Jan 2024 10:00:00 +0000',
      messageId: '<m1@example.org>',
    });
  });

  it('decodes a UTF-8 encoded-word subject into percent-encoded ASCII', () => {
    const subject = 'Grüße aus Köln – 50% off ✓';
    const encoded = `=?UTF-8?B?${Buffer.from(subject).toString('base64')}?=`;
    const fields = extractHeaderFields(b(`Subject: ${encoded}\r\n`));
    expect(fields.subject).toMatch(/^[\x20-\x7e]+$/);
    expect(fields.subject).toContain('%C3%BC'); // ü
    expect(decodeURIComponent(fields.subject!)).toBe(subject);
  });

  it('decodes Q words in iso-8859-1 and joins adjacent words, even across a split character', () => {
    expect(decodeEncodedWords('=?iso-8859-1?Q?caf=E9_cr=E8me?= =?ISO-8859-1?q?_br=FBl=E9e?=')).toBe('café crème brûlée');
    // "€" (E2 82 AC) split over two B words: decoded together, not as two broken halves.
    const euro = Buffer.from('€');
    const words = `=?utf-8?B?${euro.subarray(0, 1).toString('base64')}?=\r\n =?utf-8?B?${euro.subarray(1).toString('base64')}?=`;
    expect(decodeEncodedWords(words.replace('\r\n', ''))).toBe('€');
    expect(decodeEncodedWords('plain =?us-ascii?Q?text?= here')).toBe('plain text here');
  });

  it('leaves encoded-words in other charsets raw', () => {
    expect(decodeEncodedWords('=?koi8-r?B?9MXT1A==?=')).toBe('=?koi8-r?B?9MXT1A==?=');
    const fields = extractHeaderFields(b('Subject: =?koi8-r?B?9MXT1A==?=\r\n'));
    expect(fields.subject).toBe('=?koi8-r?B?9MXT1A==?=');
  });

  it('keeps raw 8-bit UTF-8 headers (RFC 6532) and falls back to Latin-1 otherwise', () => {
    const utf8 = extractHeaderFields(Buffer.concat([b('Subject: '), Buffer.from('naïve'), b('\r\n')]));
    expect(decodeURIComponent(utf8.subject!)).toBe('naïve');
    const latin1 = extractHeaderFields(b('Subject: na\xefve\r\n'));
    expect(decodeURIComponent(latin1.subject!)).toBe('naïve');
  });

  it('omits missing fields and skips lines that are not fields', () => {
    expect(extractHeaderFields(b('From nobody Mon Jan  1 00:00:00 2024\r\nX-Other: 1\r\n'))).toEqual({});
    expect(extractHeaderFields(Buffer.alloc(0))).toEqual({});
  });

  it('removes control characters and truncates to the limit without splitting an escape', () => {
    const fields = extractHeaderFields(b(`Subject: a\x01b\x7fc ${'é'.repeat(200)}\r\n`));
    expect(fields.subject!.startsWith('abc ')).toBe(true);
    expect(fields.subject!.length).toBeLessThanOrEqual(MAX_HEADER_VALUE_CHARS);
    expect(() => decodeURIComponent(fields.subject!)).not.toThrow();
  });
});

describe('toMetadataValue', () => {
  it('is reversible with decodeURIComponent and printable ASCII (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (text) => {
        const value = toMetadataValue(text, 10_000);
        expect(value).toMatch(/^[\x20-\x7e]*$/);
        const expected = text.replace(/\t/g, ' ').replace(/\p{Cc}/gu, '').replace(/^ +| +$/g, '');
        expect(decodeURIComponent(value)).toBe(expected);
      }),
    );
  });

  it('cuts to the limit between escapes and trims, whether the text takes the plain-ASCII shortcut or not (property)', () => {
    const ascii = fc.string({ unit: fc.constantFrom(' ', '%', 'a', 'Z', '~', '!', '\t', 'é'), maxLength: 30 });
    fc.assert(
      fc.property(ascii, fc.integer({ min: 0, max: 35 }), (text, max) => {
        const value = toMetadataValue(text, max);
        expect(value.length).toBeLessThanOrEqual(max);
        expect(value).not.toMatch(/^ | $/);
        const whole = toMetadataValue(text, 10_000);
        // A prefix of the whole value, cut at a character (never inside an escape), then trimmed.
        expect(whole.startsWith(value)).toBe(true);
        expect(() => decodeURIComponent(value)).not.toThrow();
        const inner = text.replace(/^[ \t]+|[ \t]+$/g, '');
        if (/^[\x21-\x24\x26-\x7e]([\x20-\x24\x26-\x7e]*[\x21-\x24\x26-\x7e])?$/.test(inner) && inner.length <= max) expect(value).toBe(inner);
      }),
    );
  });
});
