import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStorageError } from '../../lambda/storage/errors';
import {
  HASHED_IDENTITY_PREFIX,
  MAX_ENCODED_IDENTITY_CHARS,
  decodeIdentity,
  objectKeyFor,
  objectNameFor,
} from '../../lambda/storage/object-key';

const PREFIX = 'messages/';
const MAILBOX = 'acme.support';
/** Characters S3 and every common file system accept without quoting. */
const SAFE_OBJECT_NAME = /^[A-Za-z0-9_~-]+$/;

function nameOf(key: string): string {
  expect(key.startsWith(`${PREFIX}${MAILBOX}/`)).toBe(true);
  expect(key.endsWith('.eml')).toBe(true);
  return key.slice(`${PREFIX}${MAILBOX}/`.length, -'.eml'.length);
}

describe('objectKeyFor', () => {
  const seventyChars = 'A1b2C3d4E5'.repeat(7);
  it.each([
    ['plain UIDL', '000012a4f', '000012a4f'],
    ['slash', 'a/b', 'a~2Fb'],
    ['plus and equals (base64 UIDLs)', 'ab+c/d==', 'ab~2Bc~2Fd~3D~3D'],
    ['dot-dot', '..', '~2E~2E'],
    ['leading dot', '.hidden', '~2Ehidden'],
    ['spaces', 'a b  c', 'a~20b~20~20c'],
    ['tilde (the escape char itself)', '~7E', '~7E7E'],
    ['percent', '100%25', '100~2525'],
    ['underscore and hyphen kept', 'x_y-z', 'x_y-z'],
    ['non-ASCII as UTF-8 bytes', 'é€', '~C3~A9~E2~82~AC'],
    ['control characters', 'a\r\n\0', 'a~0D~0A~00'],
    ['70 characters (RFC 1939 maximum) stay readable', seventyChars, seventyChars],
  ])('%s: %j -> %s', (_label, identity, expected) => {
    const name = nameOf(objectKeyFor(PREFIX, MAILBOX, identity));
    expect(name).toBe(expected);
    expect(name).toMatch(SAFE_OBJECT_NAME);
    expect(decodeIdentity(name)).toBe(identity);
  });

  it('hashes a 600-character identity into a fixed-length name that does not decode', () => {
    const identity = 'u'.repeat(600);
    const key = objectKeyFor(PREFIX, MAILBOX, identity);
    const expectedDigest = createHash('sha256').update(identity).digest('hex');
    expect(nameOf(key)).toBe(`${HASHED_IDENTITY_PREFIX}${expectedDigest}`);
    expect(Buffer.byteLength(key)).toBeLessThan(200);
    expect(decodeIdentity(nameOf(key))).toBeUndefined();
  });

  it('switches to hashing exactly when the encoded identity passes the limit', () => {
    const atLimit = 'a'.repeat(MAX_ENCODED_IDENTITY_CHARS);
    expect(objectNameFor(atLimit)).toBe(atLimit);
    expect(objectNameFor(`${atLimit}a`).startsWith(HASHED_IDENTITY_PREFIX)).toBe(true);
    // 67 dots encode to 201 characters: hashed although the identity itself is short.
    expect(objectNameFor('.'.repeat(67)).startsWith(HASHED_IDENTITY_PREFIX)).toBe(true);
  });

  it('is deterministic', () => {
    expect(objectKeyFor(PREFIX, MAILBOX, 'x/y')).toBe(objectKeyFor(PREFIX, MAILBOX, 'x/y'));
    expect(objectKeyFor(PREFIX, MAILBOX, 'z'.repeat(600))).toBe(objectKeyFor(PREFIX, MAILBOX, 'z'.repeat(600)));
  });

  it('maps distinct identities to distinct keys (property)', () => {
    const identity = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 80 }),
      fc.string({ unit: fc.constantFrom('.', '/', '~', '%', '+', '=', ' ', 'a', 'A', '0', '_', '-', 'é'), minLength: 1, maxLength: 120 }),
    );
    fc.assert(
      fc.property(identity, identity, (a, b) => {
        fc.pre(a !== b);
        expect(objectKeyFor(PREFIX, MAILBOX, a)).not.toBe(objectKeyFor(PREFIX, MAILBOX, b));
      }),
      { numRuns: 2_000 },
    );
  });

  it('names are the byte-wise escaping, with or without the shortcut for plain ids: stored keys do not change (property)', () => {
    const escaped = (identity: string): string =>
      [...Buffer.from(identity, 'utf8')].map((byte) => (/^[A-Za-z0-9_-]$/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `~${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
    const plain = fc.stringMatching(/^[A-Za-z0-9_-]{1,60}$/);
    fc.assert(
      fc.property(fc.oneof(plain, fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })), (identity) => {
        const name = escaped(identity);
        if (name.length <= 200) expect(objectNameFor(identity)).toBe(name);
      }),
      { numRuns: 2_000, seed: 20261207 },
    );
    expect(objectNameFor('00000001abcd_X-y')).toBe('00000001abcd_X-y');
  });

  it('round-trips every identity it does not hash, and keeps names S3-safe (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), (identity) => {
        const name = objectNameFor(identity);
        expect(name).toMatch(SAFE_OBJECT_NAME);
        if (!name.startsWith(HASHED_IDENTITY_PREFIX)) expect(decodeIdentity(name)).toBe(identity);
      }),
      { numRuns: 1_000 },
    );
  });

  it('cannot be made to collide with a hashed name by an identity that spells one', () => {
    const long = 'L'.repeat(300);
    const hashed = objectNameFor(long);
    // The most a forger can do is send the hashed name's text as an identity: it gets escaped.
    expect(objectNameFor(hashed)).not.toBe(hashed);
    const digest = hashed.slice(HASHED_IDENTITY_PREFIX.length);
    expect(objectNameFor(`h~${digest}`)).not.toBe(hashed);
  });

  it('refuses an empty or ill-formed identity and a malformed mailbox id', () => {
    for (const [mailbox, identity] of [
      [MAILBOX, ''],
      [MAILBOX, 'a\ud800b'],
      ['..', 'x'],
      ['a/b', 'x'],
      ['', 'x'],
      ['m'.repeat(65), 'x'],
    ] as const) {
      let thrown: unknown;
      try {
        objectKeyFor(PREFIX, mailbox, identity);
      } catch (err) {
        thrown = err;
      }
      expect(isStorageError(thrown, 'INVALID_INPUT'), `${mailbox} / ${identity}`).toBe(true);
    }
  });
});

describe('decodeIdentity', () => {
  it.each([
    ['lowercase hex escape', 'a~2fb'],
    ['truncated escape', 'a~2'],
    ['a kept byte escaped (not canonical)', '~41'],
    ['raw dot', 'a.b'],
    ['invalid UTF-8', '~C3'],
    ['empty', ''],
  ])('rejects what objectKeyFor never produces: %s', (_label, encoded) => {
    expect(decodeIdentity(encoded)).toBeUndefined();
  });
});
