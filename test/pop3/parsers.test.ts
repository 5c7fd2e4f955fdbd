import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NO_CAPABILITIES, parseCapabilities, type Capabilities } from '../../lambda/pop3/capabilities';
import { serverPolicy } from '../../lambda/pop3/server-policy';
import { Pop3ErrorCode } from '../../lambda/pop3/errors';
import { buildUidlListing, parseListLine } from '../../lambda/pop3/listing';
import { redactCommand } from '../../lambda/pop3/redact';
import { classifyReplyStart } from '../../lambda/pop3/reply-boundary';
import { SecretScrubber } from '../../lambda/pop3/secret-scrubber';
import { errorFromReply, parseStatusLine } from '../../lambda/pop3/response';
import { apopDigest, apopTimestamp, cramMd5Mechanism } from '../../lambda/pop3/sasl';
import { oauthBearerMechanism, xoauth2Mechanism } from '../../lambda/pop3/sasl-oauth';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('parseStatusLine', () => {
  it('parses +OK, -ERR with RFC 2449 response codes, and continuations', () => {
    expect(parseStatusLine(b('+OK 2 320'))).toEqual({ kind: 'ok', responseCode: undefined, text: '2 320' });
    expect(parseStatusLine(b('+ok'))).toEqual({ kind: 'ok', responseCode: undefined, text: '' });
    expect(parseStatusLine(b('-ERR [in-use] locked'))).toEqual({ kind: 'err', responseCode: 'IN-USE', text: 'locked' });
    expect(parseStatusLine(b('-ERR [SYS/TEMP] later')).responseCode).toBe('SYS/TEMP');
    expect(parseStatusLine(b('+ VXNlcm5hbWU6'))).toEqual({ kind: 'continue', responseCode: undefined, text: 'VXNlcm5hbWU6' });
    expect(parseStatusLine(b('+'))).toEqual({ kind: 'continue', responseCode: undefined, text: '' });
  });

  it('accepts +OK and -ERR followed by punctuation ("+OK.", "-ERR:"), as mpop and poplib do', () => {
    expect(parseStatusLine(b('+OK.'))).toEqual({ kind: 'ok', responseCode: undefined, text: '.' });
    expect(parseStatusLine(b('-ERR: bad password'))).toEqual({ kind: 'err', responseCode: undefined, text: ': bad password' });
    expect(parseStatusLine(b('-err, [IN-USE] locked')).kind).toBe('err');
    expect(parseStatusLine(b('+OK\xa0ready')).kind).toBe('ok');
    expect(parseStatusLine(b('-ERR[SYS/TEMP] later'))).toEqual({ kind: 'err', responseCode: 'SYS/TEMP', text: 'later' });
  });

  it('rejects garbage as a protocol error, and a keyword that runs on into a word', () => {
    for (const s of ['HTTP/1.1 200 OK', '+OKAY', '+OK1', '-ERRor', '-ERR2', '', '* OK IMAP']) {
      expect(() => parseStatusLine(b(s)), s).toThrow(expect.objectContaining({ code: Pop3ErrorCode.PROTOCOL_ERROR }));
    }
  });
});

/** The status line parser as it was before its byte-level fast path for "+OK" (the reference). */
function referenceStatus(line: Buffer): unknown {
  const s = line.toString('latin1');
  const head = s.slice(0, 4).toUpperCase();
  let kind: string;
  let rest: string;
  if (head.startsWith('+OK')) [kind, rest] = ['ok', s.slice(3)];
  else if (head === '-ERR') [kind, rest] = ['err', s.slice(4)];
  else if (s === '+' || s.startsWith('+ ')) return { kind: 'continue', responseCode: undefined, text: s.slice(2) };
  else return 'malformed';
  if (/^[A-Za-z0-9]/.test(rest)) return 'malformed';
  rest = rest.replace(/^[ \t]+/, '');
  const m = /^\[([^\]\s]{1,64})\]\s*/.exec(rest);
  return m ? { kind, responseCode: m[1]!.toUpperCase(), text: rest.slice(m[0].length) } : { kind, responseCode: undefined, text: rest };
}

describe('parseStatusLine against the reference parser', () => {
  it('gives the same status, or PROTOCOL_ERROR where it found the line malformed', () => {
    const piece = fc.constantFrom('+OK', '+ok', '+oK', '-ERR', '+', ' ', '\t', '[SYS/TEMP]', '[', ']', 'a', '0', '.', ':', '\xdf', '\xff', 'text');
    const line = fc.array(piece, { maxLength: 6 }).map((parts) => b(parts.join('')));
    fc.assert(
      fc.property(line, (input) => {
        let actual: unknown;
        try {
          actual = parseStatusLine(input);
        } catch (err) {
          expect(err).toMatchObject({ code: Pop3ErrorCode.PROTOCOL_ERROR });
          actual = 'malformed';
        }
        expect(actual, input.toString('latin1')).toEqual(referenceStatus(input));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('classifyReplyStart (what may follow an ambiguous message end)', () => {
  it('agrees with parseStatusLine on +OK and -ERR, case-insensitively, and waits while too few bytes are known', () => {
    for (const head of ['+OK ', '+ok\r', '+OK\n', '+OK.']) expect(classifyReplyStart(b(head)), head).toBe('ok');
    for (const head of ['-ERR ', '-err\r', '-ERR:']) expect(classifyReplyStart(b(head)), head).toBe('err');
    for (const head of ['', '+', '+O', '+OK', '-', '-E', '-ER', '-ERR', '+ok']) expect(classifyReplyStart(b(head)), head).toBeUndefined();
  });

  it('takes anything else for the rest of a message: other words, continuations, text', () => {
    for (const head of ['+OKAY', '-ERR4', '+ VX', '+\r\n', 'end\r\n', '.\r\n', ' +OK ', '\r\n']) expect(classifyReplyStart(b(head)), head).toBe('other');
  });
});

describe('errorFromReply', () => {
  it('maps response codes to typed, retry-classified errors', () => {
    const cases: [string, string, Pop3ErrorCode, boolean][] = [
      ['-ERR [AUTH] bad', 'other', Pop3ErrorCode.AUTH_FAILED, false],
      ['-ERR [IN-USE] locked', 'auth', Pop3ErrorCode.IN_USE, true],
      ['-ERR [LOGIN-DELAY] wait', 'auth', Pop3ErrorCode.LOGIN_DELAY, true],
      ['-ERR [SYS/TEMP] x', 'other', Pop3ErrorCode.SYS_TEMP, true],
      ['-ERR [SYS/PERM] x', 'other', Pop3ErrorCode.SYS_PERM, false],
      ['-ERR no such message', 'other', Pop3ErrorCode.SERVER_ERROR, true],
      ['-ERR Login failed.', 'auth', Pop3ErrorCode.AUTH_FAILED, false],
    ];
    for (const [line, purpose, code, retryable] of cases) {
      const err = errorFromReply(parseStatusLine(b(line)), 'PASS ***', purpose as 'auth' | 'other');
      expect(err.code, line).toBe(code);
      expect(err.retryable, line).toBe(retryable);
      expect(err.command).toBe('PASS ***');
    }
  });

  it('keeps hostile server text printable and bounded', () => {
    const err = errorFromReply(parseStatusLine(Buffer.concat([b('-ERR '), Buffer.alloc(600, 0x07)])), 'NOOP', 'other');
    expect(err.serverText).toMatch(/^\?+\.\.\.$/);
    expect(err.serverText!.length).toBeLessThanOrEqual(203);
  });
});

describe('UIDL listings', () => {
  it('accepts any whitespace between fields and reports duplicates without merging', () => {
    const l = buildUidlListing([b('1 abc'), b('2\t\t def'), b('3   abc'), b('4 ok ')]);
    expect(l.entries.map((e) => e.uid)).toEqual(['abc', 'def', 'abc', 'ok']);
    expect([...l.duplicates]).toEqual([['abc', [1, 3]]]);
  });

  it('sets aside unsafe ids and counts over-long ones', () => {
    const long = 'x'.repeat(100);
    const l = buildUidlListing([b(`1 ${long}`), Buffer.concat([b('2 a'), Buffer.from([0xff])]), b(`3 ${'y'.repeat(600)}`), b('4 fine')]);
    expect(l.entries.map((e) => e.number)).toEqual([1, 4]);
    expect(l.invalid.map((e) => e.number)).toEqual([2, 3]);
    // An id with a blank inside is set aside; the rest of the listing stays usable.
    const spaced = buildUidlListing([b('1 with space'), b('2 ok')]);
    expect(spaced.invalid).toEqual([{ number: 1, reason: 'unique-id holds byte 0x20 outside 0x21..0x7E' }]);
    expect(spaced.entries).toEqual([{ number: 2, uid: 'ok' }]);
    expect(l.overlong).toBe(1);
  });

  it('sets aside a line with a number and no unique-id, keeping the rest of the listing', () => {
    const l = buildUidlListing([b('1 first'), b('2'), b('3 \t'), b('4 last')]);
    expect(l.entries).toEqual([
      { number: 1, uid: 'first' },
      { number: 4, uid: 'last' },
    ]);
    expect(l.invalid).toEqual([
      { number: 2, reason: 'empty unique-id' },
      { number: 3, reason: 'empty unique-id' },
    ]);
  });

  it('sets aside a unique-id that holds a secret of the session, and shows malformed lines scrubbed', () => {
    const scrubber = new SecretScrubber();
    scrubber.addSecret('pw123');
    const show = (line: Buffer): Buffer => scrubber.scrubLine(line);
    const l = buildUidlListing([b('1 abcpw123'), b('2 fine')], show);
    expect(l.invalid).toEqual([{ number: 1, reason: 'unique-id holds a credential of this session' }]);
    expect(l.entries).toEqual([{ number: 2, uid: 'fine' }]);
    expect(() => buildUidlListing([b('x pw123')], show)).toThrow(/"x \*\*\*"/);
    // Numbers are parsed as sent: a numeric secret does not break LIST.
    scrubber.addSecret('1200');
    expect(parseListLine(b('3 1200'), show)).toEqual({ number: 3, size: 1200 });
  });

  it('rejects malformed lines and repeated message numbers', () => {
    expect(() => buildUidlListing([b('x abc')])).toThrow(expect.objectContaining({ code: Pop3ErrorCode.PROTOCOL_ERROR }));
    expect(() => buildUidlListing([b('1 a'), b('1 b')])).toThrow(/listed twice/);
    expect(() => buildUidlListing([b('0 a')])).toThrow(/out of range/);
  });

  it('parses LIST lines with trailing text', () => {
    expect(parseListLine(b('3 1200 extra'))).toEqual({ number: 3, size: 1200 });
  });
});

describe('parseCapabilities', () => {
  it('reads the capabilities that matter, including mailutils quirks', () => {
    const c = parseCapabilities(['TOP', 'UIDL', 'SASL plain LOGIN', 'PIPELINING', 'STLS', 'LOGIN-DELAY 10', 'EXPIRENEVER', 'IMPLEMENTATION GNU Mailutils 3.15'].map(b));
    expect(c).toMatchObject({ top: true, uidl: true, pipelining: true, stls: true, user: false, sasl: ['PLAIN', 'LOGIN'], loginDelaySeconds: 10, expire: 'never', implementation: 'GNU Mailutils 3.15' });
    expect(parseCapabilities([b('EXPIRE 30')]).expire).toBe(30);
  });

  it('merges a repeated SASL line (union of mechanisms) and keeps the first value of any other', () => {
    const c = parseCapabilities(['SASL PLAIN', 'LOGIN-DELAY 10', 'SASL XOAUTH2 plain', 'LOGIN-DELAY 900', 'EXPIRE 5', 'EXPIRE NEVER'].map(b));
    expect(c.sasl).toEqual(['PLAIN', 'XOAUTH2']);
    expect(c.loginDelaySeconds).toBe(10);
    expect(c.expire).toBe(5);
  });

  it('reads EXPIRE in the RFC 2449 form and in mailutils\' glued form (EXPIRE0, EXPIRE30), and the USER tag', () => {
    expect(parseCapabilities([b('EXPIRE0')])).toMatchObject({ expire: 0, expirePerUser: false });
    expect(parseCapabilities([b('expire30')]).expire).toBe(30);
    expect(parseCapabilities([b('EXPIRE 0')]).expire).toBe(0);
    expect(parseCapabilities([b('EXPIRE 0 USER')])).toMatchObject({ expire: 0, expirePerUser: true });
    expect(parseCapabilities([b('LOGIN-DELAY 900 USER')])).toMatchObject({ loginDelaySeconds: 900, loginDelayPerUser: true });
    expect(parseCapabilities([b('LOGIN-DELAY 900')])).toMatchObject({ loginDelaySeconds: 900, loginDelayPerUser: false });
    // Not EXPIRE: another capability that starts with the word, and a value that is no number.
    expect(parseCapabilities([b('EXPIRED')]).expire).toBeUndefined();
    expect(parseCapabilities([b('EXPIRE soon')]).expire).toBeUndefined();
    // mailutils 3.15 with login-delay writes the value alone on a line: no LOGIN-DELAY is read from it.
    expect(parseCapabilities([b('2')]).loginDelaySeconds).toBeUndefined();
  });
});

describe('serverPolicy', () => {
  const caps = (...lines: string[]): Capabilities => parseCapabilities(lines.map(b));

  it('takes the values announced after login (per user) over those before', () => {
    expect(serverPolicy(caps('EXPIRE 0 USER', 'LOGIN-DELAY 900 USER'), caps('EXPIRE NEVER', 'LOGIN-DELAY 60'))).toEqual({ expireDays: 'never', loginDelaySeconds: 60 });
    expect(serverPolicy(caps('EXPIRE 30 USER'), caps('EXPIRE0'))).toEqual({ expireDays: 0, loginDelaySeconds: undefined });
  });

  it('keeps the values announced before login when CAPA after login is silent or refused', () => {
    expect(serverPolicy(caps('EXPIRE 0 USER', 'LOGIN-DELAY 900'), caps('TOP', 'UIDL'))).toEqual({ expireDays: 0, loginDelaySeconds: 900 });
    expect(serverPolicy(caps('EXPIRE0'), NO_CAPABILITIES)).toEqual({ expireDays: 0, loginDelaySeconds: undefined });
    expect(serverPolicy(undefined, undefined)).toEqual({ expireDays: undefined, loginDelaySeconds: undefined });
  });
});

describe('redactCommand', () => {
  it('hides every secret-carrying argument', () => {
    expect(redactCommand('PASS hunter2')).toBe('PASS ***');
    expect(redactCommand('pass hunter2 with spaces')).toBe('PASS ***');
    expect(redactCommand('APOP alice 0123abcd')).toBe('APOP alice ***');
    expect(redactCommand('AUTH PLAIN AGFsaWNlAHNlY3JldA==')).toBe('AUTH PLAIN ***');
    expect(redactCommand('AUTH XOAUTH2')).toBe('AUTH XOAUTH2');
    expect(redactCommand('USER alice')).toBe('USER alice');
    expect(redactCommand('RETR 1')).toBe('RETR 1');
  });
});

describe('SASL and APOP', () => {
  it('computes the RFC 1939 APOP example digest', () => {
    expect(apopTimestamp('POP3 server ready <1896.697170952@dbc.mtview.ca.us>')).toBe('<1896.697170952@dbc.mtview.ca.us>');
    expect(apopDigest('<1896.697170952@dbc.mtview.ca.us>', 'tanstaaf')).toBe('c4c9334bac560ecc979e58001b3e22fb');
    expect(apopTimestamp('+OK ready')).toBeUndefined();
  });

  it('computes the RFC 2195 CRAM-MD5 example', () => {
    const m = cramMd5Mechanism({ username: 'tim', password: 'tanstaaftanstaaf' });
    expect(m.respond(b('<1896.697170952@postoffice.reston.mci.net>')).toString()).toBe('tim b913a602c7eda7a495b4e6e7334d3890');
  });

  it('builds XOAUTH2 (one- and two-step) and OAUTHBEARER responses', () => {
    const one = xoauth2Mechanism({ username: 'a@b.c', accessToken: 'tok' }, false);
    expect(one.initialResponse!.toString()).toBe('user=a@b.c\x01auth=Bearer tok\x01\x01');
    expect(one.respond(b('{"status":"401"}')).length).toBe(0); // answer to the error challenge
    const two = xoauth2Mechanism({ username: 'a@b.c', accessToken: 'tok' }, true);
    expect(two.initialResponse).toBeUndefined();
    expect(two.respond(b('')).toString()).toBe('user=a@b.c\x01auth=Bearer tok\x01\x01');
    expect(oauthBearerMechanism({ username: 'x,y=z', accessToken: 't' }).initialResponse!.toString()).toBe('n,a=x=2Cy=3Dz,\x01auth=Bearer t\x01\x01');
  });
});
