import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { headerFingerprint } from '../../lambda/storage/header-block';
import { MessageDigest, sameContent } from '../../lambda/storage/message-digest';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function digestIn(chunks: Buffer[]): ReturnType<MessageDigest['result']> {
  const d = new MessageDigest();
  for (const c of chunks) d.update(c);
  return d.result();
}

describe('MessageDigest', () => {
  const message = Buffer.from('Subject: a\r\nFrom: b@example.org\r\n\r\nbody line\r\n\r\nmore\r\n', 'latin1');
  const body = message.subarray(message.indexOf('\r\n\r\n') + 4);

  it('hashes the body after the empty line wherever the chunks are cut', () => {
    for (let cut = 0; cut <= message.length; cut++) {
      const r = digestIn([message.subarray(0, cut), message.subarray(cut)]);
      expect(r.bodySha256, `cut at ${cut}`).toBe(sha(body));
      expect(r.sha256).toBe(sha(message));
      expect(r.size).toBe(message.length);
    }
    const oneByOne = digestIn([...message].map((b) => Buffer.from([b])));
    expect(oneByOne.bodySha256).toBe(sha(body));
  });

  it('finds an LF-only empty line, and gives no body hash when the header block never ends', () => {
    const lf = Buffer.from('Subject: a\n\nbody\n');
    expect(digestIn([lf]).bodySha256).toBe(sha(Buffer.from('body\n')));
    expect(digestIn([Buffer.from('Subject: a\r\nno empty line\r\n')]).bodySha256).toBeUndefined();
  });
});

describe('sameContent', () => {
  const a = { sha256: 'x', bodySha256: 'b', headerFingerprint: 'h' };
  it('is true for the same bytes, or the same fingerprint and body (server-maintained fields rewritten)', () => {
    expect(sameContent(a, { sha256: 'x' })).toBe(true);
    expect(sameContent(a, { sha256: 'y', bodySha256: 'b', headerFingerprint: 'h' })).toBe(true);
  });
  it('is false for another body, other headers, or nothing to compare', () => {
    expect(sameContent(a, { sha256: 'y', bodySha256: 'c', headerFingerprint: 'h' })).toBe(false);
    expect(sameContent(a, { sha256: 'y', bodySha256: 'b', headerFingerprint: 'g' })).toBe(false);
    expect(sameContent({ sha256: 'x' }, { sha256: 'y' })).toBe(false);
    expect(sameContent({}, {})).toBe(false);
  });
  it('sees a Status: field added by the server as the same content', () => {
    const before = Buffer.from('Subject: s\r\n\r\nhello\r\n');
    const after = Buffer.from('Subject: s\r\nStatus: RO\r\n\r\nhello\r\n');
    expect(headerFingerprint(before)).toBe(headerFingerprint(after));
    expect(sameContent(digestIn([before]), digestIn([after]))).toBe(true);
  });
});
