/**
 * SCRAM (RFC 5802, RFC 7677) and SASLprep (RFC 4013) on their own: the RFCs' example
 * exchanges byte for byte, the GS2 header in each channel-binding situation, and every
 * server message that must cancel the exchange instead of being answered.
 */
import { describe, expect, it } from 'vitest';
import { Pop3Error, Pop3ErrorCode } from '../../lambda/pop3';
import { SaslCancel } from '../../lambda/pop3/sasl';
import { MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, scramCredentialProblem, scramMechanism } from '../../lambda/pop3/sasl-scram';
import { saslPrep, SaslPrepError } from '../../lambda/pop3/saslprep';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const pencil = { username: 'user', password: 'pencil' };

/** The cancel reason `p` rejects (or the function `p` throws) with; the test fails if there is none. */
async function cancelOf(p: unknown): Promise<string> {
  const err = await Promise.resolve()
    .then(() => (typeof p === 'function' ? (p as () => unknown)() : p))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(SaslCancel);
  return (err as SaslCancel).message;
}

describe('the RFC example exchanges', () => {
  const EXAMPLES = [
    {
      rfc: 'SCRAM-SHA-1, RFC 5802 section 5',
      hash: 'sha1',
      nonce: 'fyko+d2lbbFgONRv9qkxdawL',
      serverFirst: 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096',
      clientFinal: 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=',
      serverFinal: 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=',
    },
    {
      rfc: 'SCRAM-SHA-256, RFC 7677 section 3',
      hash: 'sha256',
      nonce: 'rOprNGfwEbeRWgbNEkqO',
      serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
      clientFinal: 'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
      serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
    },
  ] as const;
  for (const e of EXAMPLES) {
    it(e.rfc, async () => {
      const m = scramMechanism(pencil, { hash: e.hash, nonce: e.nonce });
      expect(m.name).toBe(e.rfc.split(',')[0]);
      expect(m.initialResponse!.toString()).toBe(`n,,n=user,r=${e.nonce}`);
      expect((await m.respond(b(e.serverFirst))).toString()).toBe(e.clientFinal);
      expect((await m.respond(b(e.serverFinal))).length).toBe(0);
      expect(() => m.complete!()).not.toThrow();
    });
  }
});

describe('the GS2 header and the channel-binding data', () => {
  const serverFirst = b('r=abcdefSERVER,s=QSXCR+Q6sek8bf92,i=4096');

  it('n without binding, y when the client could bind but the server offers no -PLUS', async () => {
    const n = scramMechanism(pencil, { hash: 'sha256', nonce: 'abcdef' });
    expect(n.initialResponse!.toString()).toBe('n,,n=user,r=abcdef');
    expect((await n.respond(serverFirst)).toString()).toMatch(/^c=biws,r=abcdefSERVER,p=/);
    const y = scramMechanism(pencil, { hash: 'sha256', nonce: 'abcdef', couldBind: true });
    expect(y.initialResponse!.toString()).toBe('y,,n=user,r=abcdef');
    expect((await y.respond(serverFirst)).toString()).toMatch(/^c=eSws,r=abcdefSERVER,p=/);
  });

  it('-PLUS: p=<type> and c= carrying the header and the binding data', async () => {
    const data = Buffer.from('0123456789abcdef0123456789abcdef');
    for (const type of ['tls-exporter', 'tls-server-end-point'] as const) {
      const m = scramMechanism(pencil, { hash: 'sha1', nonce: 'abcdef', binding: { type, data } });
      expect(m.name).toBe('SCRAM-SHA-1-PLUS');
      expect(m.initialResponse!.toString()).toBe(`p=${type},,n=user,r=abcdef`);
      const c = /^c=([^,]+),/.exec((await m.respond(serverFirst)).toString())![1]!;
      expect(Buffer.from(c, 'base64')).toEqual(Buffer.concat([b(`p=${type},,`), data]));
    }
  });

  it('escapes "=" and "," in the user name (=3D, =2C) after SASLprep', () => {
    const m = scramMechanism({ username: 'a=b,c\u00ADd', password: 'x' }, { hash: 'sha1', nonce: 'n0nce' });
    expect(m.initialResponse!.toString()).toBe('n,,n=a=3Db=2Ccd,r=n0nce');
  });

  it('draws a fresh random nonce for every exchange', () => {
    const first = scramMechanism(pencil, { hash: 'sha1' }).initialResponse!.toString();
    const second = scramMechanism(pencil, { hash: 'sha1' }).initialResponse!.toString();
    expect(first).toMatch(/^n,,n=user,r=[A-Za-z0-9+/]{32}$/);
    expect(first).not.toBe(second);
  });
});

describe('server messages that cancel the exchange', () => {
  const start = (): ReturnType<typeof scramMechanism> => scramMechanism(pencil, { hash: 'sha1', nonce: 'fyko+d2lbbFgONRv9qkxdawL' });
  const good = 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096';

  it('a mandatory extension (m=), a malformed message', async () => {
    expect(await cancelOf(start().respond(b(`m=must-know,${good}`)))).toMatch(/extension \(m=\)/);
    expect(await cancelOf(start().respond(b('s=QSXCR+Q6sek8bf92,r=fyko+d2lbbFgONRv9qkxdawL3rfc,i=4096')))).toMatch(/malformed/);
    expect(await cancelOf(start().respond(b('')))).toMatch(/malformed/);
  });

  it('a nonce that does not extend ours, or adds nothing to it', async () => {
    expect(await cancelOf(start().respond(b('r=someoneElsesNonce123,s=QSXCR+Q6sek8bf92,i=4096')))).toMatch(/nonce does not extend/);
    expect(await cancelOf(start().respond(b('r=fyko+d2lbbFgONRv9qkxdawL,s=QSXCR+Q6sek8bf92,i=4096')))).toMatch(/nonce does not extend/);
  });

  it('a salt that is not base64, or empty', async () => {
    expect(await cancelOf(start().respond(b('r=fyko+d2lbbFgONRv9qkxdawLx,s=not~base64,i=4096')))).toMatch(/salt/);
    expect(await cancelOf(start().respond(b('r=fyko+d2lbbFgONRv9qkxdawLx,s=,i=4096')))).toMatch(/salt/);
  });

  it(`an iteration count below ${MIN_SCRAM_ITERATIONS}, above ${MAX_SCRAM_ITERATIONS}, or not an integer`, async () => {
    for (const i of [String(MIN_SCRAM_ITERATIONS - 1), String(MAX_SCRAM_ITERATIONS + 1), '99999999999999', '4096.5', '04096', '-4096', '']) {
      expect(await cancelOf(start().respond(b(`r=fyko+d2lbbFgONRv9qkxdawLx,s=QSXCR+Q6sek8bf92,i=${i}`))), i).toMatch(/iteration count/);
    }
  });

  it('a server signature that does not verify; a final message without one', async () => {
    const m = start();
    await m.respond(b(good));
    expect(await cancelOf(m.respond(b('v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=')))).toMatch(/signature does not verify/);
    const other = start();
    await other.respond(b(good));
    expect(await cancelOf(other.respond(b('x=what')))).toMatch(/neither a signature/);
  });

  it('names a man in the middle as a possible cause when the link was bound', async () => {
    const m = scramMechanism(pencil, { hash: 'sha256', nonce: 'abcdef', binding: { type: 'tls-exporter', data: Buffer.alloc(32) } });
    await m.respond(b('r=abcdefSERVER,s=QSXCR+Q6sek8bf92,i=4096'));
    expect(await cancelOf(m.respond(b('v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')))).toMatch(/man in the middle/);
  });

  it('e=: the server\'s error becomes the failure detail; the exchange is not complete', async () => {
    const m = start();
    await m.respond(b(good));
    expect((await m.respond(b('e=invalid-proof'))).length).toBe(0);
    expect(m.failureDetail!()).toBe('the server says: invalid-proof');
    expect(await cancelOf(() => m.complete!())).toMatch(/mutual authentication did not happen/);
  });

  it('+OK before the server-final message, and a challenge after it', async () => {
    const early = start();
    expect(await cancelOf(() => early.complete!())).toMatch(/without proving/);
    await early.respond(b(good));
    expect(await cancelOf(() => early.complete!())).toMatch(/without proving/);
    const m = start();
    await m.respond(b(good));
    await m.respond(b('v=rmF9pqV8S7suAoZWja4dJRkFsKQ='));
    expect(await cancelOf(m.respond(b('more')))).toMatch(/another challenge/);
  });
});

describe('SASLprep (RFC 4013)', () => {
  it('maps, normalizes and keeps what it may (the RFC 4013 section 3 examples)', () => {
    expect(saslPrep('I\u00ADX')).toBe('IX');
    expect(saslPrep('user')).toBe('user');
    expect(saslPrep('USER')).toBe('USER');
    expect(saslPrep('\u00AA')).toBe('a');
    expect(saslPrep('\u2168')).toBe('IX');
    expect(saslPrep('a\u00A0b\u3000c')).toBe('a b c');
    expect(saslPrep('\u05D0\u05D1')).toBe('\u05D0\u05D1');
  });

  it('refuses prohibited characters and broken bidirectional text', () => {
    for (const bad of ['\u0007', 'a\uE000', 'x\uFFFF', '\u200E', '\u0627\u0031', '\u0627a\u0628', 'a\uD800']) {
      expect(() => saslPrep(bad), JSON.stringify(bad)).toThrow(SaslPrepError);
    }
  });

  it('a password SASLprep refuses is a USAGE error that does not show it; a user name shows the character', () => {
    const err = (() => {
      try {
        scramMechanism({ username: 'alice', password: 'hunter2\u0007pw' }, { hash: 'sha256' });
      } catch (e) {
        return e as Pop3Error;
      }
    })();
    expect(err).toBeInstanceOf(Pop3Error);
    expect(err!.code).toBe(Pop3ErrorCode.USAGE);
    expect(err!.message).toMatch(/SCRAM cannot use this password: SASLprep \(RFC 4013\) refuses it: a prohibited character/);
    expect(JSON.stringify({ ...err, message: err!.message })).not.toMatch(/hunter2|U\+0007/);
    expect(() => scramMechanism({ username: 'al\u0001ce', password: 'x' }, { hash: 'sha1' })).toThrow(/user name.*\(U\+0001\)/);
    expect(scramCredentialProblem({ username: 'alice', password: '' })).toMatch(/nothing once prepared/);
    expect(scramCredentialProblem({ username: 'alice', password: 'pässwörd' })).toBeUndefined();
  });
});
