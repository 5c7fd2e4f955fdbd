/**
 * examples/mail-pipeline end to end on real local servers: the worker (runMailbox, through
 * WorkerBench) fetches from the fake POP3 server into s3rver (state and outbox in dynalite)
 * and publishes its Mail Stored events to the local PutEvents endpoint; each event, as the
 * endpoint received it and shaped the way EventBridge delivers it to a Lambda target, is
 * given to the example's handler, whose output in s3rver is then checked byte for byte.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailPipelineError, MailPipelineErrorCode } from '../../examples/mail-pipeline/errors';
import { createHandler, type MailPipelineHandler } from '../../examples/mail-pipeline/handler';
import type { MailStoredDetail, MailStoredEvent } from '../../examples/mail-pipeline/mail-stored-event';
import { MAX_SUMMARY_TEXT_CHARS, type MailSummary } from '../../examples/mail-pipeline/message-summary';
import { MAX_SAFE_FILENAME_OCTETS } from '../../examples/mail-pipeline/safe-filename';
import { PROJECT_ROOT, fetchEsbuildOptions } from '../../lib/bundling';
import { startDynalite, startS3rver, createLocalS3Client, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakeEventBridge, type FakeEventBridge, type ReceivedEvent } from '../fixtures/fake-eventbridge';
import { startFakePop3, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { hookRequests } from '../fixtures/request-hooks';
import { SimulatedCrash, WorkerBench } from '../sync/harness';

const MAILBOX = 'billing';
const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';

/** Every byte value, then some more: a binary attachment that no text decoding survives. */
const BINARY = Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), createHash('sha256').update('more').digest()]);
const PDF = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n', 'latin1');

/** Base64 in 76-character lines, as MIME wants it. */
function base64Lines(bytes: Buffer): string {
  return (bytes.toString('base64').match(/.{1,76}/g) ?? []).join('\r\n');
}

function crlf(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'latin1');
}

/** multipart/mixed: text/plain with an HTML alternative, an RFC 2231 named PDF and an RFC 2047 named binary. */
const INVOICE = crlf([
  'From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@vendor.example>',
  'To: Billing <billing@example.org>',
  'Cc: ar@example.org',
  'Subject: =?UTF-8?B?UmVjaG51bmcgTcOkcnogMjAyNg==?=',
  'Date: Fri, 06 Nov 2026 10:00:00 +0100',
  'Message-ID: <inv-42@vendor.example>',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="mixed-b"',
  '',
  '--mixed-b',
  'Content-Type: multipart/alternative; boundary="alt-b"',
  '',
  '--alt-b',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Guten Tag, anbei die Rechnung f=C3=BCr M=C3=A4rz.',
  '--alt-b',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Guten Tag, anbei die <b>Rechnung</b>.</p>',
  '--alt-b--',
  '--mixed-b',
  'Content-Type: application/pdf',
  "Content-Disposition: attachment; filename*0*=UTF-8''Rechnung%20M%C3%A4rz;",
  ' filename*1*=%202026.pdf',
  'Content-Transfer-Encoding: base64',
  '',
  base64Lines(PDF),
  '--mixed-b',
  'Content-Type: application/octet-stream',
  'Content-Disposition: attachment; filename="=?ISO-8859-1?Q?Gr=F6=DFe.bin?="',
  'Content-Transfer-Encoding: base64',
  '',
  base64Lines(BINARY),
  '--mixed-b--',
  '',
]);

/** Attachments whose names try to leave the folder, hide control characters, or never end. */
const HOSTILE_NAMES: Array<{ header: string; expected: string }> = [
  { header: 'filename="../../etc/passwd"', expected: '_._etc_passwd' },
  { header: 'filename="..\\\\..\\\\windows\\\\system.ini"', expected: '_._windows_system.ini' },
  { header: 'filename=".."', expected: 'attachment' },
  { header: `filename="${'x'.repeat(300)}.pdf"`, expected: `${'x'.repeat(MAX_SAFE_FILENAME_OCTETS - 4)}.pdf` },
  // SOH, ESC, CR, LF, RIGHT-TO-LEFT OVERRIDE ("exe.txt" shown as "txt.exe"), through RFC 2047.
  { header: 'filename="=?UTF-8?Q?a=01b=1B[31m=0D=0Ac=E2=80=AEtxt.exe?="', expected: 'a_b__31m__c_txt.exe' },
  { header: 'filename="same.txt"', expected: 'same.txt' },
  { header: 'filename="same.txt"', expected: 'same.txt' },
];
const HOSTILE = crlf([
  'From: mallory@attacker.example',
  'To: billing@example.org',
  'Subject: names',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="h"',
  '',
  '--h',
  'Content-Type: text/plain',
  '',
  'see attached',
  ...HOSTILE_NAMES.flatMap((n, i) => [
    '--h',
    'Content-Type: application/octet-stream',
    `Content-Disposition: attachment; ${n.header}`,
    // base64: postal-mime keeps the line break before the boundary in 7bit parts.
    'Content-Transfer-Encoding: base64',
    '',
    base64Lines(Buffer.from(`part ${i}`)),
  ]),
  '--h--',
  '',
]);

const LONG_TEXT = crlf(['From: a@example.org', 'Subject: long', 'Content-Type: text/plain; charset=us-ascii', '', 'y'.repeat(MAX_SUMMARY_TEXT_CHARS + 10), '']);
const PLAIN = crlf(['From: a@example.org', 'Subject: plain', '', 'just text', '']);

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The event as EventBridge hands it to a Lambda target, from what the PutEvents endpoint received. */
function delivered(received: ReceivedEvent, id = received.id): MailStoredEvent {
  return {
    version: '0',
    id,
    'detail-type': received.detailType,
    source: received.source,
    account: ACCOUNT,
    time: new Date((received.time ?? 0) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: REGION,
    resources: [...received.resources],
    detail: received.detail as unknown as MailStoredDetail,
  };
}

describe('examples/mail-pipeline: worker -> Mail Stored -> handler', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  let bus: FakeEventBridge;
  let pop3: FakePop3Server;
  let bench: WorkerBench;
  /** The handler's own client, so its requests can be watched apart from the bench's. */
  let handlerS3: S3Client;
  let puts: string[];
  let failPut: ((key: string) => boolean) | undefined;
  let handler: MailPipelineHandler;
  const logs: string[] = [];
  const events = new Map<string, MailStoredEvent>();

  beforeAll(async () => {
    [s3, dynamo, bus, pop3] = await Promise.all([
      startS3rver(),
      startDynalite(),
      startFakeEventBridge(),
      startFakePop3({
        messages: [
          { uid: 'invoice', bytes: INVOICE },
          { uid: 'hostile', bytes: HOSTILE },
          { uid: 'long', bytes: LONG_TEXT },
          { uid: 'plain', bytes: PLAIN },
        ],
      }),
    ]);
    bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: pop3.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      mailbox: { id: MAILBOX, retention: 'keep' },
      events: { bus },
    });
    const summary = await bench.run();
    if (summary instanceof SimulatedCrash) throw summary;
    expect(summary).toMatchObject({ fetched: 4, eventsPublished: 4, eventsFailed: 0, errors: [] });
    for (const received of bus.events) events.set(String(received.detail.uidl), delivered(received));

    handlerS3 = createLocalS3Client(s3.endpoint);
    puts = [];
    hookRequests(
      handlerS3,
      {
        name: 'pipelinePuts',
        before: ({ operation, input }) => {
          if (operation === 'PutObject' && failPut?.(String(input.Key))) throw Object.assign(new Error('injected PutObject failure'), { name: 'InternalError' });
        },
        after: ({ operation, input }) => {
          if (operation === 'PutObject') puts.push(String(input.Key));
        },
      },
      's3',
    );
    handler = createHandler({ s3: handlerS3, log: (line) => logs.push(line) });
  }, 120_000);

  afterAll(async () => {
    handlerS3?.destroy();
    await Promise.all([s3?.stop(), dynamo?.stop(), bus?.close(), pop3?.close()]);
  });

  function eventOf(uidl: string): MailStoredEvent {
    const event = events.get(uidl);
    if (event === undefined) throw new Error(`no Mail Stored event for ${uidl}`);
    return event;
  }

  /** Objects under `prefix` in the bench's bucket: key -> bytes. */
  async function objectsUnder(prefix: string): Promise<Map<string, Buffer>> {
    return new Map([...(await bench.objects())].filter(([key]) => key.startsWith(prefix)));
  }

  it('writes both attachments byte-exact, then summary.json with the headers, the text and the attachment list', async () => {
    const event = eventOf('invoice');
    const { eventId } = event.detail;
    const folder = `parsed/${MAILBOX}/${eventId}/`;
    puts.length = 0;

    const result = await handler(event);

    const pdfKey = `${folder}attachments/001-Rechnung März 2026.pdf`;
    const binKey = `${folder}attachments/002-Größe.bin`;
    expect(result).toEqual({ eventId, bucket: bench.bucket, summaryKey: `${folder}summary.json`, attachmentKeys: [pdfKey, binKey] });
    const written = await objectsUnder('parsed/');
    expect([...written.keys()].sort()).toEqual([pdfKey, binKey, `${folder}summary.json`].sort());
    expect(written.get(pdfKey)!.equals(PDF)).toBe(true);
    expect(written.get(binKey)!.equals(BINARY)).toBe(true);
    // Attachments first; the summary, whose presence means "complete", last.
    expect(puts.at(-1)).toBe(`${folder}summary.json`);
    expect(puts.slice(0, -1).sort()).toEqual([pdfKey, binKey].sort());

    const summary = JSON.parse(written.get(`${folder}summary.json`)!.toString('utf8')) as MailSummary;
    expect(summary).toEqual({
      summaryVersion: '1',
      eventId,
      mailbox: MAILBOX,
      source: { bucket: bench.bucket, key: event.detail.key, size: INVOICE.length, sha256: sha256(INVOICE) },
      from: { name: 'Jürgen Müller', address: 'juergen@vendor.example' },
      to: [{ name: 'Billing', address: 'billing@example.org' }],
      cc: [{ address: 'ar@example.org' }],
      subject: 'Rechnung März 2026',
      date: '2026-11-06T09:00:00.000Z',
      messageId: '<inv-42@vendor.example>',
      text: 'Guten Tag, anbei die Rechnung für März.\n',
      textTruncated: false,
      hasHtml: true,
      attachments: [
        { index: 1, filename: 'Rechnung März 2026.pdf', contentType: 'application/pdf', disposition: 'attachment', contentId: null, size: PDF.length, sha256: sha256(PDF), key: pdfKey },
        { index: 2, filename: 'Größe.bin', contentType: 'application/octet-stream', disposition: 'attachment', contentId: null, size: BINARY.length, sha256: sha256(BINARY), key: binKey },
      ],
      attachmentsOmitted: 0,
    });
    expect(JSON.parse(logs.at(-1)!)).toMatchObject({ event: 'parsed', mailbox: MAILBOX, eventId, attachments: 2 });
  });

  it('a redelivered event (and a re-sent one, under a new EventBridge id) leaves the same objects with the same bytes', async () => {
    const event = eventOf('invoice');
    const folder = `parsed/${MAILBOX}/${event.detail.eventId}/`;
    await handler(event);
    const first = await objectsUnder(folder);
    expect(first.size).toBe(3);

    await handler(event);
    await handler({ ...event, id: 'a-later-re-send' });

    expect(await objectsUnder(folder)).toEqual(first);
  });

  it('a run that failed before its summary leaves no summary.json; the redelivery completes it with the same objects', async () => {
    const event = eventOf('plain');
    const folder = `parsed/${MAILBOX}/${event.detail.eventId}/`;
    failPut = (key) => key.endsWith('/summary.json');
    try {
      const failed = await handler(event).catch((err: unknown) => err);
      expect(failed).toBeInstanceOf(MailPipelineError);
      expect(failed).toMatchObject({ code: MailPipelineErrorCode.S3_FAILED, retryable: true });
    } finally {
      failPut = undefined;
    }
    expect([...(await objectsUnder(folder)).keys()]).toEqual([]);

    await handler(event);
    const summary = JSON.parse((await objectsUnder(folder)).get(`${folder}summary.json`)!.toString('utf8')) as MailSummary;
    expect(summary).toMatchObject({ subject: 'plain', text: 'just text\n', hasHtml: false, attachments: [], attachmentsOmitted: 0 });
  });

  it('hostile file names stay single segments under the message folder; same names never collide', async () => {
    const event = eventOf('hostile');
    const folder = `parsed/${MAILBOX}/${event.detail.eventId}/`;

    const result = await handler(event);

    const expected = HOSTILE_NAMES.map((n, i) => `${folder}attachments/${String(i + 1).padStart(3, '0')}-${n.expected}`);
    expect(result.attachmentKeys).toEqual(expected);
    const written = await objectsUnder(folder);
    expect([...written.keys()].sort()).toEqual([...expected, `${folder}summary.json`].sort());
    HOSTILE_NAMES.forEach((_, i) => expect(written.get(expected[i]!)!.toString()).toBe(`part ${i}`));
    for (const key of written.keys()) {
      const name = key.slice(`${folder}attachments/`.length);
      if (key.endsWith('summary.json')) continue;
      expect(name).not.toMatch(/\/|\.\.|\\|[\p{Cc}\p{Cf}]/u);
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(MAX_SAFE_FILENAME_OCTETS + 4);
    }
    // Nothing anywhere but the messages and this pipeline's folders.
    for (const key of (await bench.objects()).keys()) expect(key).toMatch(new RegExp(`^(messages/${MAILBOX}/|parsed/${MAILBOX}/[0-9a-f]{64}/)`));
    const summary = JSON.parse(written.get(`${folder}summary.json`)!.toString('utf8')) as MailSummary;
    expect(summary.attachments[0]).toMatchObject({ filename: '../../etc/passwd', key: expected[0] });
  });

  it('cuts a long text body to MAX_SUMMARY_TEXT_CHARS and says so', async () => {
    const result = await handler(eventOf('long'));
    const summary = JSON.parse((await objectsUnder(result.summaryKey)).get(result.summaryKey)!.toString('utf8')) as MailSummary;
    expect(summary.text).toBe('y'.repeat(MAX_SUMMARY_TEXT_CHARS));
    expect(summary.textTruncated).toBe(true);
  });

  it('refuses an event whose object was overwritten since (SHA-256 differs), writing nothing', async () => {
    const event = eventOf('plain');
    const stale = { ...event, detail: { ...event.detail, eventId: sha256(Buffer.from('another version')), sha256: sha256(Buffer.from('other bytes')) } };
    puts.length = 0;

    const refused = await handler(stale).catch((err: unknown) => err);

    expect(refused).toBeInstanceOf(MailPipelineError);
    expect(refused).toMatchObject({ code: MailPipelineErrorCode.STALE_OBJECT, retryable: false });
    expect((refused as Error).message).toBe(
      `s3://${bench.bucket}/${event.detail.key} is not the message of event ${stale.detail.eventId}: its SHA-256 is ${sha256(PLAIN)}, the event says ${stale.detail.sha256} (the object was overwritten since); nothing written`,
    );
    expect(puts).toEqual([]);
    expect([...(await objectsUnder(`parsed/${MAILBOX}/${stale.detail.eventId}/`)).keys()]).toEqual([]);
  });

  it('refuses the event of an object replaced in S3 after it was stored', async () => {
    const event = eventOf('long');
    await s3.s3.send(new PutObjectCommand({ Bucket: bench.bucket, Key: `${event.detail.key}`, Body: Buffer.from('Subject: replaced\r\n\r\nnew\r\n') }));
    await expect(handler(event)).rejects.toMatchObject({ code: MailPipelineErrorCode.STALE_OBJECT });
    await s3.s3.send(new PutObjectCommand({ Bucket: bench.bucket, Key: event.detail.key, Body: LONG_TEXT }));
  });

  it('refuses other detail versions, other events and unusable fields with clear errors', async () => {
    const event = eventOf('plain');
    await expect(handler({ ...event, detail: { ...event.detail, version: '2' as '1' } })).rejects.toThrow(
      'Mail Stored detail version "2" is not supported (this handler reads version "1"); update the handler',
    );
    await expect(handler({ ...event, 'detail-type': 'Object Created', source: 'aws.s3' })).rejects.toMatchObject({ code: MailPipelineErrorCode.UNSUPPORTED_EVENT });
    await expect(handler({ ...event, detail: { ...event.detail, mailbox: '..', eventId: '../x' } })).rejects.toThrow(
      'invalid Mail Stored detail: mailbox is not a mailbox id; eventId is not 64 lowercase hex digits',
    );
  });

  it('the bundle the construct deploys (esbuild, the repository options) runs the same from plain node with Lambda-like environment variables', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mf-pipeline-bundle-'));
    try {
      const options = fetchEsbuildOptions(join(dir, 'asset'), join(PROJECT_ROOT, 'examples/mail-pipeline/handler.ts'));
      await build(options);
      const runner = join(dir, 'invoke.mjs');
      writeFileSync(
        runner,
        `const { handler } = await import(${JSON.stringify(pathToFileURL(options.outfile).href)});
         const result = await handler(JSON.parse(process.argv[2]));
         process.stdout.write('RESULT ' + JSON.stringify(result) + '\\n');`,
      );
      const env = {
        PATH: process.env.PATH,
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_ENDPOINT_URL_S3: s3.endpoint,
        // s3rver stores aws-chunked framing verbatim; real S3 does not need these.
        AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
        AWS_RESPONSE_CHECKSUM_VALIDATION: 'WHEN_REQUIRED',
        OUTPUT_PREFIX: 'bundled/',
      };
      const { stdout } = await promisify(execFile)(process.execPath, [runner, JSON.stringify(eventOf('invoice'))], { env, cwd: dir });
      const result = JSON.parse(stdout.split('\n').find((l) => l.startsWith('RESULT '))!.slice('RESULT '.length)) as { summaryKey: string };

      const { eventId } = eventOf('invoice').detail;
      const bundled = await objectsUnder(`bundled/${MAILBOX}/${eventId}/`);
      const direct = await objectsUnder(`parsed/${MAILBOX}/${eventId}/`);
      expect(result.summaryKey).toBe(`bundled/${MAILBOX}/${eventId}/summary.json`);
      // The same output, but for the prefix in the keys.
      const rekeyed = new Map([...bundled].map(([key, bytes]) => [key.replace(/^bundled\//, 'parsed/'), Buffer.from(bytes.toString('latin1').replaceAll('"bundled/', '"parsed/'), 'latin1')]));
      expect(rekeyed).toEqual(direct);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
