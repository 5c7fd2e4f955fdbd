/**
 * Sample mail for `mailfetch demo`, generated in code: realistic RFC 5322 messages with
 * CRLF line ends, each exercising something the pipeline must keep byte-exact (an
 * encoded-word subject, a multipart with an attachment, lines that start with '.').
 */
import type { FakeMessage } from './pop3-server/fake-pop3-server';

export const DEMO_DOMAIN = 'demo.mailfetch.invalid';
export const DEMO_ADDRESS = `inbox@${DEMO_DOMAIN}`;

/** The mailbox as it is when the demo starts. */
export function initialDemoMessages(now: Date = new Date()): FakeMessage[] {
  return [plainText(1, now), encodedWordSubject(2, now), withAttachment(3, now), leadingDots(4, now)];
}

/** Mail that "arrives" between the demo's second and third fetch. */
export function laterDemoMessages(now: Date = new Date()): FakeMessage[] {
  return [reply(5, now), alternative(6, now)];
}

/** A UIDL the way Dovecot makes them: opaque, printable, stable. */
function uid(n: number): string {
  return `demo-${String(n).padStart(4, '0')}`;
}

function headers(n: number, now: Date, fields: Record<string, string>): string[] {
  // Older messages first: message n arrived (7 - n) hours before `now`.
  const date = new Date(now.getTime() - (7 - n) * 3_600_000);
  return [
    `Return-Path: <${fields.fromAddress ?? 'sender@example.org'}>`,
    `Message-ID: <${uid(n)}@example.org>`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `From: ${fields.from}`,
    `To: ${DEMO_ADDRESS}`,
    `Subject: ${fields.subject}`,
    'MIME-Version: 1.0',
  ];
}

function message(n: number, lines: string[]): FakeMessage {
  return { uid: uid(n), bytes: Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8') };
}

function plainText(n: number, now: Date): FakeMessage {
  return message(n, [
    ...headers(n, now, { from: 'Ada Lovelace <ada@example.org>', fromAddress: 'ada@example.org', subject: 'Meeting notes for Thursday' }),
    'Content-Type: text/plain; charset=us-ascii',
    'Content-Transfer-Encoding: 7bit',
    '',
    'Hi,',
    '',
    'attached below are the notes from Thursday:',
    '',
    '  1. The mail import runs every five minutes.',
    '  2. Only new messages are fetched; nothing is fetched twice.',
    '  3. Raw messages land in S3 byte for byte.',
    '',
    'Ada',
  ]);
}

function encodedWordSubject(n: number, now: Date): FakeMessage {
  // RFC 2047 encoded-word: the subject is "Grüße aus Köln – Rechnung März" in UTF-8.
  const subject = `=?UTF-8?B?${Buffer.from('Grüße aus Köln – Rechnung März', 'utf8').toString('base64')}?=`;
  return message(n, [
    ...headers(n, now, { from: '=?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>', fromAddress: 'joerg@example.de', subject }),
    'Content-Type: text/plain; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    'Hallo,',
    '',
    'anbei die Rechnung f=C3=BCr M=C3=A4rz =E2=80=93 bitte bis zum 15. =C3=BCberweisen.',
    '',
    'Viele Gr=C3=BC=C3=9Fe',
    'J=C3=B6rg',
  ]);
}

function withAttachment(n: number, now: Date): FakeMessage {
  const boundary = '=_mailfetch_demo_boundary_3';
  const csv = 'date,amount,currency\r\n2024-03-01,120.00,EUR\r\n2024-03-15,89.50,EUR\r\n';
  const base64 = Buffer.from(csv, 'utf8').toString('base64').match(/.{1,76}/g) ?? [];
  return message(n, [
    ...headers(n, now, { from: 'Billing <billing@example.com>', fromAddress: 'billing@example.com', subject: 'Your statement for March' }),
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    'This is a multi-part message in MIME format.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'Your statement is attached as a CSV file.',
    '',
    `--${boundary}`,
    'Content-Type: text/csv; name="statement-2024-03.csv"',
    'Content-Disposition: attachment; filename="statement-2024-03.csv"',
    'Content-Transfer-Encoding: base64',
    '',
    ...base64,
    '',
    `--${boundary}--`,
  ]);
}

function leadingDots(n: number, now: Date): FakeMessage {
  // POP3 dot-stuffs these lines on the wire; the stored object must have them unstuffed.
  return message(n, [
    ...headers(n, now, { from: 'Grace Hopper <grace@example.net>', fromAddress: 'grace@example.net', subject: 'Config snippet (lines starting with dots)' }),
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'The files you asked about:',
    '',
    '.env',
    '.gitignore',
    '..hidden-twice',
    '.',
    'The line above is a single dot; in POP3 it would end the message if not stuffed.',
  ]);
}

function reply(n: number, now: Date): FakeMessage {
  return message(n, [
    ...headers(n, now, { from: 'Ada Lovelace <ada@example.org>', fromAddress: 'ada@example.org', subject: 'Re: Meeting notes for Thursday' }),
    `In-Reply-To: <${uid(1)}@example.org>`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'One more thing: the import also keeps going after a crash.',
    '',
    '> 3. Raw messages land in S3 byte for byte.',
  ]);
}

function alternative(n: number, now: Date): FakeMessage {
  const boundary = '=_mailfetch_demo_alt_6';
  return message(n, [
    ...headers(n, now, { from: 'Newsletter <news@example.com>', fromAddress: 'news@example.com', subject: 'This week: POP3 is not dead' }),
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'POP3 is still how many mailboxes hand over their mail.',
    '',
    `--${boundary}`,
    'Content-Type: text/html; charset=us-ascii',
    '',
    '<p>POP3 is still how many mailboxes hand over their mail.</p>',
    '',
    `--${boundary}--`,
  ]);
}
