/**
 * The benchmark mail: realistic RFC 5322 messages stored the way Dovecot's own delivery
 * stores them (LF line ends on disk; Dovecot sends CRLF). Text bodies have some lines that
 * start with '.', so every client has dot-unstuffing to do; large messages carry a base64
 * attachment. No message starts with '.' (Dovecot 2.3 would not stuff it).
 */
import { randomBytes } from 'node:crypto';

const WORDS = (
  'the of and to in is was that for on are with as be at by this had not but from or have an they which one you were her all she there ' +
  'would their we him been has when who will more no if out so said what up its about into than them can only other new some could ' +
  'time these two may then do first any my now such like our over man me even most made after also did many before must through back'
).split(' ');

/** A deterministic PRNG (mulberry32): the corpus is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function header(i: number, kind: string, extra: string[]): string[] {
  const date = new Date(Date.UTC(2026, 0, 1) + i * 60_000).toUTCString().replace('GMT', '+0000');
  return [
    'Return-Path: <sender' + i + '@example.org>',
    `Received: from mx${i % 7}.example.org (mx${i % 7}.example.org [192.0.2.${i % 250}])`,
    `\tby mail.example.com with ESMTPS id bench${i}; ${date}`,
    `From: "Sender ${i}" <sender${i}@example.org>`,
    'To: "Alice Example" <alice@example.com>',
    `Subject: ${kind} benchmark message number ${i}`,
    `Date: ${date}`,
    `Message-ID: <bench.${kind}.${i}@example.org>`,
    'MIME-Version: 1.0',
    ...extra,
  ];
}

/** A text message of about `octets` octets (on disk). */
export function textMessage(i: number, octets: number): Buffer {
  const rand = prng(i * 2654435761);
  const lines = header(i, 'text', ['Content-Type: text/plain; charset=us-ascii', 'Content-Transfer-Encoding: 7bit']);
  lines.push('');
  let size = lines.reduce((n, l) => n + l.length + 1, 0);
  let n = 0;
  while (size < octets) {
    let line = n % 40 === 39 ? '.' : '';
    while (line.length < 68) line += (line.length > 1 ? ' ' : '') + WORDS[Math.floor(rand() * WORDS.length)];
    lines.push(line);
    size += line.length + 1;
    n++;
  }
  return Buffer.from(`${lines.join('\n')}\n`, 'latin1');
}

/** A message with a short text part and a base64 attachment, about `octets` octets. */
export function attachmentMessage(i: number, octets: number): Buffer {
  const boundary = `=_bench_${i}_boundary`;
  const head = header(i, 'attachment', [`Content-Type: multipart/mixed; boundary="${boundary}"`]);
  const text = textMessage(i, 2_000).toString('latin1').split('\n\n').slice(1).join('\n\n');
  const parts = [
    ...head,
    '',
    'This is a multi-part message in MIME format.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    text.trimEnd(),
    '',
    `--${boundary}`,
    `Content-Type: application/octet-stream; name="report-${i}.bin"`,
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="report-${i}.bin"`,
    '',
  ].join('\n');
  const overhead = parts.length + boundary.length + 8;
  const b64Octets = Math.max(0, octets - overhead);
  // base64 lines of 76 characters + LF: 77 octets carry 57 bytes.
  const raw = randomBytes(Math.ceil((b64Octets / 77) * 57));
  const b64 = raw.toString('base64');
  const out: string[] = [];
  for (let p = 0; p < b64.length; p += 76) out.push(b64.slice(p, p + 76));
  return Buffer.from(`${parts}\n${out.join('\n')}\n\n--${boundary}--\n`, 'latin1');
}

export interface CorpusSpec {
  readonly name: string;
  readonly user: string;
  readonly count: number;
  readonly octets: number;
  readonly make: (i: number, octets: number) => Buffer;
}

export function makeCorpus(spec: CorpusSpec): Buffer[] {
  return Array.from({ length: spec.count }, (_, i) => spec.make(i + 1, spec.octets));
}
