/**
 * The messages of a matrix run, in wire form (CRLF). Each one exercises a transfer hazard:
 * dot-stuffing, 8-bit bytes, a last line without line end. None starts with "." (Dovecot
 * does not dot-stuff the first line of a message) and no line starts with "From " (mbox).
 */
const CRLF = '\r\n';
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

/** Every byte 0x80..0xFF, in lines of 32. */
function eightBitLines(): Buffer {
  const lines: Buffer[] = [];
  for (let start = 0x80; start <= 0xff; start += 32) {
    lines.push(Buffer.from(Array.from({ length: 32 }, (_, i) => start + i)), Buffer.from(CRLF, 'latin1'));
  }
  return Buffer.concat(lines);
}

function headers(tag: string, n: number, subject: string, extra: string[] = []): string {
  return [
    `Message-ID: <${tag}.${n}@interop.test>`,
    `Date: Mon, 1 Jan 2024 00:00:0${n} +0000`,
    'From: Interop Sender <sender@interop.test>',
    'To: alice@localhost',
    `Subject: ${subject} (${tag})`,
    ...extra,
  ].join(CRLF);
}

/** Three distinct messages; `tag` makes Message-IDs unique per run (Cyrus and popa3d key on them). */
export function matrixMessages(tag: string): Buffer[] {
  const dots = `${headers(tag, 1, 'dot lines')}${CRLF}${CRLF}first body line${CRLF}.one dot${CRLF}..two dots${CRLF}.${CRLF}. dot space${CRLF}end${CRLF}`;
  const eightBit = Buffer.concat([
    Buffer.from(`${headers(tag, 2, '8-bit body', ['MIME-Version: 1.0', 'Content-Type: text/plain; charset=iso-8859-1', 'Content-Transfer-Encoding: 8bit'])}${CRLF}${CRLF}`, 'latin1'),
    Buffer.from(`Gr\u00fc\u00dfe in UTF-8${CRLF}`, 'utf8'),
    eightBitLines(),
  ]);
  const noFinalNewline = `${headers(tag, 3, 'no final newline')}${CRLF}${CRLF}line one${CRLF}last line without newline`;
  return [Buffer.from(dots, 'latin1'), eightBit, Buffer.from(noFinalNewline, 'latin1')];
}

/** What follows the header block (after the first empty line). */
export function bodyOf(message: Buffer): Buffer {
  const end = message.indexOf(HEADER_END);
  if (end < 0) throw new Error('message has no header/body separator');
  return message.subarray(end + HEADER_END.length);
}

/**
 * The body a server must deliver for a message we gave it: unchanged, except that a last
 * line without line end gets CRLF (POP3 can only send whole lines).
 */
export function expectedBody(sent: Buffer): Buffer {
  const body = bodyOf(sent);
  return body.subarray(-2).toString('latin1') === CRLF ? body : Buffer.concat([body, Buffer.from(CRLF, 'latin1')]);
}

/** Order-independent form of a set of messages, for equality checks. */
export function sortedBase64(messages: Iterable<Buffer>): string[] {
  return [...messages].map((m) => m.toString('base64')).sort();
}
