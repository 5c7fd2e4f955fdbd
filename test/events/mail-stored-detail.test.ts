/**
 * The `Mail Stored` event detail over a corpus of header blocks: encoded words in several
 * charsets, RFC 2231 parameters, groups, long and repeated fields, 8-bit garbage, and the
 * detail's size bound.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_DETAIL_OCTETS,
  MAX_EVENT_ADDRESS_CHARS,
  MAX_EVENT_LIST_ENTRIES,
  MAX_EVENT_TEXT_CHARS,
  eventIdFor,
  mailStoredDetail,
  type StoredMessageFacts,
} from '../../lambda/events/mail-stored-detail';
import { MAX_HEADER_CAPTURE_OCTETS } from '../../lambda/storage/header-block';

const FACTS: StoredMessageFacts = {
  mailbox: 'acme',
  bucket: 'mail-bucket',
  key: 'messages/acme/u1.eml',
  size: 1234,
  sha256: 'a'.repeat(64),
  uidl: 'u1',
  identity: 'u1',
  firstSeenAt: '2026-12-06T10:00:00.000Z',
  storedAt: '2026-12-06T10:00:01.000Z',
};

/** A header block from lines, each line's bytes as latin1 (so 8-bit bytes go in as they are). */
function block(...lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}

/** A header block in raw UTF-8 (RFC 6532), as many senders write it. */
function utf8Block(...lines: string[]): Buffer {
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'utf8');
}

describe('mailStoredDetail', () => {
  it('decodes encoded words in UTF-8, ISO-8859-1 and ISO-2022-JP, folds included, and parses address lists and groups', async () => {
    const detail = await mailStoredDetail(
      FACTS,
      block(
        'From: =?utf-8?Q?Al=C3=AFce?= <alice@example.org>',
        'To: "Bach, Sebastian" <sebu@example.com>, mozart@example.com (Mozzie), Team: a@example.net, b@example.net;',
        'Cc: =?ISO-8859-1?Q?Andr=E9?= <andre@example.fr>',
        'Reply-To: billing@vendor.example',
        'Subject: =?UTF-8?B?w5xiZXJncsO2w59l?=',
        '\tand a fold =?iso-2022-jp?B?GyRCJEskWyRzGyhC?=',
        'Date: Wed, 1 May 2024 10:00:00 +0200',
        'Message-ID: <big-1@example.org>',
        'In-Reply-To: <x@example.org>',
        'References: <a@example.org>  <b@example.org>',
        '\t<c@example.org>',
        'List-Id: =?utf-8?Q?Liste_f=C3=BCr?= Rechnungen <invoices.vendor.example>',
        'Auto-Submitted: Auto-Replied; owner-email="x@example.org"',
        'Content-Type: multipart/mixed; boundary="b1"',
      ),
    );
    expect(detail).toMatchObject({
      version: '1',
      mailbox: 'acme',
      bucket: 'mail-bucket',
      key: 'messages/acme/u1.eml',
      size: 1234,
      uidl: 'u1',
      from: { name: 'Alïce', address: 'alice@example.org' },
      to: [
        { name: 'Bach, Sebastian', address: 'sebu@example.com' },
        { name: 'Mozzie', address: 'mozart@example.com' },
        { address: 'a@example.net' },
        { address: 'b@example.net' },
      ],
      cc: [{ name: 'André', address: 'andre@example.fr' }],
      replyTo: [{ address: 'billing@vendor.example' }],
      subject: 'Übergröße and a fold にほん',
      date: '2024-05-01T08:00:00.000Z',
      dateHeader: 'Wed, 1 May 2024 10:00:00 +0200',
      messageId: '<big-1@example.org>',
      inReplyTo: '<x@example.org>',
      references: ['<a@example.org>', '<b@example.org>', '<c@example.org>'],
      listId: 'Liste für Rechnungen <invoices.vendor.example>',
      autoSubmitted: 'auto-replied',
      contentType: 'multipart/mixed',
      multipart: true,
      hasAttachments: true,
      truncated: [],
    });
  });

  it('replaces bytes it cannot decode instead of failing, and drops control characters', async () => {
    const detail = await mailStoredDetail(
      FACTS,
      block('From: \xff\xfe Mallory <m@example.org>', 'Subject: broken \x80\x81 =?x-unknown?Q?abc?= bytes\x07', 'Date: not a date'),
    );
    expect(detail.subject).toContain('\ufffd');
    expect(detail.subject).not.toMatch(/\p{Cc}/u);
    expect(detail.subject).toMatch(/^broken .* bytes$/);
    expect(detail.from?.address).toBe('m@example.org');
    expect(detail.date).toBeUndefined();
    expect(detail.dateHeader).toBe('not a date');
  });

  it('reads an attachment from a single-part message with an RFC 2231 file name, and knows text and alternative mail has none', async () => {
    const pdf = await mailStoredDetail(
      FACTS,
      block('Content-Type: application/pdf', "Content-Disposition: attachment; filename*=utf-8''Rechnung%20%E2%82%AC.pdf"),
    );
    expect(pdf).toMatchObject({ contentType: 'application/pdf', multipart: false, hasAttachments: true });
    const alternative = await mailStoredDetail(FACTS, block('Content-Type: Multipart/Alternative; boundary=x'));
    expect(alternative).toMatchObject({ contentType: 'multipart/alternative', multipart: true, hasAttachments: false });
    const bare = await mailStoredDetail(FACTS, block('Subject: no content type'));
    expect(bare).toMatchObject({ contentType: 'text/plain', multipart: false, hasAttachments: false, to: [], cc: [], references: [] });
  });

  it('cuts long values to their limits and says which', async () => {
    const detail = await mailStoredDetail(
      FACTS,
      block(`Subject: ${'x'.repeat(5_000)}`, `From: ${'n'.repeat(2_000)} <${'l'.repeat(400)}@example.org>`, `Message-ID: <${'m'.repeat(3_000)}@example.org>`),
    );
    expect(detail.subject).toHaveLength(MAX_EVENT_TEXT_CHARS);
    expect(detail.subject!.endsWith('…')).toBe(true);
    expect(detail.from!.name).toHaveLength(MAX_EVENT_ADDRESS_CHARS);
    expect(detail.from!.address).toHaveLength(MAX_EVENT_ADDRESS_CHARS);
    expect(detail.messageId).toHaveLength(MAX_EVENT_TEXT_CHARS);
    expect(detail.truncated.sort()).toEqual(['from', 'messageId', 'subject']);
  });

  it('stays within MAX_DETAIL_OCTETS whatever the header block: the longest one captured, of long recipients and references', async () => {
    const recipients = Array.from({ length: 100 }, (_, i) => `"${'Ñame'.repeat(25)} ${i}" <${'r'.repeat(50)}${i}@example.org>`).join(', ');
    const references = Array.from({ length: 100 }, (_, i) => `<${'ref'.repeat(10)}${i}@example.org>`).join(' ');
    const headerBlock = utf8Block(`To: ${recipients}`, `Cc: ${recipients}`, `References: ${references}`, `Subject: ${'€'.repeat(3_000)}`);
    expect(headerBlock.length).toBeLessThanOrEqual(MAX_HEADER_CAPTURE_OCTETS);

    const detail = await mailStoredDetail(FACTS, headerBlock);

    expect(Buffer.byteLength(JSON.stringify(detail))).toBeLessThanOrEqual(MAX_DETAIL_OCTETS);
    expect(detail.to.length).toBeLessThan(MAX_EVENT_LIST_ENTRIES);
    expect(detail.to.length).toBeGreaterThan(10);
    expect(detail.to[0]).toEqual({ name: `${'Ñame'.repeat(25)} 0`, address: `${'r'.repeat(50)}0@example.org` });
    expect(detail.truncated).toEqual(expect.arrayContaining(['to', 'cc', 'references', 'subject']));
    // The last References entries are the ones kept: they name the closest ancestors.
    expect(detail.references.at(-1)).toBe(`<${'ref'.repeat(10)}99@example.org>`);
  });

  it('keeps one idempotency id per message: the same across runs, another for another mailbox, identity or content', async () => {
    const once = await mailStoredDetail(FACTS, block('Subject: a'));
    const again = await mailStoredDetail({ ...FACTS, storedAt: '2027-01-01T00:00:00.000Z', key: 'elsewhere' }, block('Subject: a'));
    expect(again.eventId).toBe(once.eventId);
    expect(once.eventId).toBe(eventIdFor(FACTS));
    const others = [eventIdFor({ ...FACTS, mailbox: 'other' }), eventIdFor({ ...FACTS, identity: 'u2' }), eventIdFor({ ...FACTS, sha256: 'b'.repeat(64) })];
    expect(new Set([once.eventId, ...others]).size).toBe(4);
  });
});
