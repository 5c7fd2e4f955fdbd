/**
 * Fuzzing the reply parsers with arbitrary and mutated server output: every input gives
 * either a value or a Pop3Error with a code, never another exception; and what is parsed
 * satisfies the parser's own promises (uids are safe ASCII, numbers in range, text bounded).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseCapabilities } from '../../lambda/pop3/capabilities';
import { MAX_UID_OCTETS } from '../../lambda/pop3/constants';
import { Pop3Error, Pop3ErrorCode } from '../../lambda/pop3/errors';
import { buildUidlListing, parseListLine, parseUidlLine } from '../../lambda/pop3/listing';
import { errorFromReply, parseStatusLine } from '../../lambda/pop3/response';
import { bytes, fuzzParams, interestingByte, mutated, tokenSoup } from './fuzz-support';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const CODES = new Set<string>(Object.values(Pop3ErrorCode));

/** Runs `fn`; a thrown value must be a Pop3Error with a known code (returned), anything else fails. */
function valueOrPop3Error<T>(fn: () => T): T | Pop3Error {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof Pop3Error)) throw new Error(`threw ${String(err)} instead of a Pop3Error`, { cause: err });
    expect(CODES.has(err.code)).toBe(true);
    expect(typeof err.retryable).toBe('boolean');
    return err;
  }
}

/** A line as the line reader hands it out: no LF inside (CR may remain: only CRLF/LF end a line). */
const line = (max = 40): fc.Arbitrary<Buffer> =>
  fc.oneof(bytes(max), tokenSoup(8)).map((x) => Buffer.from(x.filter((c) => c !== 0x0a)));

const statusLine = fc.oneof(
  line(),
  mutated(fc.constantFrom(b('+OK 2 320'), b('-ERR [IN-USE] locked'), b('-ERR [SYS/TEMP] try later'), b('+ VXNlcm5hbWU6'), b('+OK'), b('-ERR'))).map((x) =>
    Buffer.from(x.filter((c) => c !== 0x0a)),
  ),
);

describe('fuzz: status lines', () => {
  it('parseStatusLine: a status (with a bounded response code) or PROTOCOL_ERROR; errorFromReply always types the -ERR', () => {
    fc.assert(
      fc.property(statusLine, fc.constantFrom('auth' as const, 'other' as const), (input, purpose) => {
        const r = valueOrPop3Error(() => parseStatusLine(input));
        if (r instanceof Pop3Error) {
          expect(r.code).toBe(Pop3ErrorCode.PROTOCOL_ERROR);
          expect(r.message.length).toBeLessThan(300);
          return;
        }
        expect(['ok', 'err', 'continue']).toContain(r.kind);
        if (r.responseCode !== undefined) expect(r.responseCode.length).toBeLessThanOrEqual(64);
        const err = errorFromReply(r, 'NOOP', purpose);
        expect(err).toBeInstanceOf(Pop3Error);
        expect(CODES.has(err.code)).toBe(true);
        // Untrusted text reaches logs only printable and bounded.
        expect(err.serverText ?? '').toMatch(/^[\x20-\x7e]{0,203}$/);
      }),
      fuzzParams(1000),
    );
  });
});

describe('fuzz: CAPA', () => {
  it('parseCapabilities never throws, on arbitrary or mutated capability lines', () => {
    const validCapa = fc.constantFrom(b('TOP'), b('UIDL'), b('SASL PLAIN LOGIN'), b('LOGIN-DELAY 900'), b('EXPIRE 30'), b('EXPIRENEVER'), b('IMPLEMENTATION x'), b('PIPELINING'));
    fc.assert(
      fc.property(fc.array(fc.oneof(line(), mutated(validCapa)), { maxLength: 12 }), (lines) => {
        const c = valueOrPop3Error(() => parseCapabilities(lines));
        expect(c).not.toBeInstanceOf(Pop3Error);
        if (c instanceof Pop3Error) return;
        expect(c.lines).toHaveLength(lines.length);
        if (c.loginDelaySeconds !== undefined) expect(Number.isSafeInteger(c.loginDelaySeconds) || c.loginDelaySeconds > 0).toBe(true);
        if (typeof c.expire === 'number') expect(c.expire).toBeGreaterThanOrEqual(0);
      }),
      fuzzParams(1000),
    );
  });
});

/** A valid UIDL listing line for message `n`. */
const validUidlLine = fc
  .tuple(fc.integer({ min: 1, max: 50 }), fc.stringMatching(/^[\x21-\x7e]{1,20}$/))
  .map(([n, uid]) => b(`${n} ${uid}`));

describe('fuzz: UIDL and LIST listings', () => {
  it('buildUidlListing: a listing whose entries are safe, or PROTOCOL_ERROR', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(line(), mutated(validUidlLine, 3)), { maxLength: 20 }), (lines) => {
        const r = valueOrPop3Error(() => buildUidlListing(lines));
        if (r instanceof Pop3Error) {
          expect(r.code).toBe(Pop3ErrorCode.PROTOCOL_ERROR);
          return;
        }
        const numbers = [...r.entries.map((e) => e.number), ...r.invalid.map((e) => e.number)];
        expect(new Set(numbers).size).toBe(numbers.length);
        expect(numbers.length).toBe(lines.length);
        for (const e of r.entries) {
          expect(Number.isSafeInteger(e.number) && e.number >= 1).toBe(true);
          expect(e.uid).toMatch(new RegExp(`^[\\x21-\\x7e]{1,${MAX_UID_OCTETS}}$`));
        }
        for (const [uid, nums] of r.duplicates) {
          expect(nums.length).toBeGreaterThan(1);
          expect(r.entries.filter((e) => e.uid === uid).map((e) => e.number)).toEqual(nums);
        }
      }),
      fuzzParams(1000),
    );
  });

  it('a well-framed line ("n", blanks, an id without line ends) is never fatal: the id is accepted or set aside', () => {
    // The promise of the listing: one odd id must not make the whole mailbox unreadable.
    // So whatever bytes the id holds, a line "<n> <id>" lands in `entries` or `invalid`.
    const id = fc
      .array(interestingByte(), { minLength: 1, maxLength: 24 })
      .map((a) => Buffer.from(a.filter((c) => c !== 0x0a && c !== 0x0d)))
      .filter((x) => x.length > 0 && x[0] !== 0x20 && x[0] !== 0x09 && x[x.length - 1] !== 0x20 && x[x.length - 1] !== 0x09);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), id, (n, uid) => {
        const r = valueOrPop3Error(() => buildUidlListing([Buffer.concat([b(`${n} `), uid])]));
        expect(r, `id bytes ${uid.toString('hex')}`).not.toBeInstanceOf(Pop3Error);
        if (r instanceof Pop3Error) return;
        expect(r.entries.length + r.invalid.length).toBe(1);
      }),
      fuzzParams(1000),
    );
  });

  it('parseUidlLine and parseListLine: a value in range, or PROTOCOL_ERROR', () => {
    const validList = fc.tuple(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 1e9 })).map(([n, s]) => b(`${n} ${s}`));
    fc.assert(
      fc.property(fc.oneof(line(), mutated(validList), mutated(validUidlLine)), (input) => {
        const list = valueOrPop3Error(() => parseListLine(input));
        if (list instanceof Pop3Error) expect(list.code).toBe(Pop3ErrorCode.PROTOCOL_ERROR);
        else {
          expect(Number.isSafeInteger(list.number) && list.number >= 1).toBe(true);
          expect(Number.isSafeInteger(list.size) && list.size >= 0).toBe(true);
        }
        const uidl = valueOrPop3Error(() => parseUidlLine(input));
        if (uidl instanceof Pop3Error) expect(uidl.code).toBe(Pop3ErrorCode.PROTOCOL_ERROR);
        // An empty id only for a line that is a number alone ("2"): the listing sets it aside.
        else if (uidl.uid.length === 0) expect(input.toString('latin1')).toMatch(/^[ \t]*\d{1,10}[ \t]*$/);
      }),
      fuzzParams(1000),
    );
  });
});
