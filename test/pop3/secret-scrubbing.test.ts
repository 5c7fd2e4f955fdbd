/**
 * Secrets never escape: a server that echoes everything it was sent (command lines, SASL
 * blobs, continuation answers, the decoded payloads) must not get a password, token, or
 * anything derived from one into an error, its serverText, its cause, or a trace line,
 * whatever the mechanism, the secret's length or its characters.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { openSession, Pop3Client, Pop3Error, Pop3ErrorCode, type AuthMechanismName, type Pop3SessionOptions } from '../../lambda/pop3';
import { base64Cores, SecretScrubber } from '../../lambda/pop3/secret-scrubber';
import { startFakePop3, type FakeCommand, type FakePop3Server, type FakeSession } from '../fixtures/fake-pop3-server';
import { fuzzParams } from '../fuzz/fuzz-support';

const servers: FakePop3Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Decoded base64 with line breaks made blanks, so an echo of it stays one line. */
function decoded(blob: Buffer): Buffer {
  return Buffer.from(Buffer.from(blob.toString('latin1'), 'base64').map((c) => (c === 0x0a || c === 0x0d ? 0x20 : c)));
}

/** -ERR repeating every line of the exchange, raw and base64-decoded, after `pad`. */
async function echoError(s: FakeSession, pad: string, lines: Buffer[]): Promise<void> {
  const parts = lines.flatMap((l) => [l, b(' | decoded: '), decoded(l), b(' | ')]);
  await s.write(Buffer.concat([b(`-ERR [AUTH] ${pad}you sent: `), ...parts, b('\r\n')]));
}

/** Sends a continuation, returns the client's answer (null when the connection is gone). */
async function ask(s: FakeSession, challenge: string): Promise<Buffer | null> {
  await s.writeLine(`+ ${challenge}`);
  return s.readLine();
}

/** The SASL exchanges, each ending in an -ERR that echoes all the client sent. */
async function saslEcho(cmd: FakeCommand, s: FakeSession, pad: string): Promise<void> {
  const mechanism = (cmd.args[0] ?? '').toUpperCase();
  const initial = cmd.args[1] === undefined ? undefined : b(cmd.args[1]);
  const sent: Buffer[] = [cmd.raw];
  const take = (line: Buffer | null): boolean => (line === null ? false : (sent.push(line), true));
  if (mechanism === 'LOGIN') {
    if (!take(await ask(s, 'VXNlcm5hbWU6')) || !take(await ask(s, 'UGFzc3dvcmQ6'))) return;
  } else if (mechanism === 'CRAM-MD5') {
    if (!take(await ask(s, Buffer.from('<1896.697170952@fake>').toString('base64')))) return;
  } else if (mechanism === 'PLAIN') {
    if (!initial && !take(await ask(s, ''))) return;
  } else if (mechanism.startsWith('SCRAM-')) {
    // A valid server-first, so that the client sends its client-final with the proof.
    const nonce = /,r=([^,]+)/.exec(Buffer.from(initial?.toString('latin1') ?? '', 'base64').toString('latin1'))?.[1] ?? '';
    if (!take(await ask(s, Buffer.from(`r=${nonce}echo,s=QSXCR+Q6sek8bf92,i=4096`).toString('base64')))) return;
    // The proof on its own too: a server may quote just that.
    sent.push(b(/,p=([^,]+)$/.exec(decoded(sent.at(-1)!).toString('latin1'))?.[1] ?? ''));
  } else {
    // XOAUTH2 / OAUTHBEARER: the error comes as a continuation, here one that echoes the blob.
    const blob = initial ?? (await ask(s, ''));
    if (!blob || (!initial && !take(blob))) return;
    if (!take(await ask(s, `${pad}${blob.toString('latin1')}`))) return;
  }
  await echoError(s, pad, sent);
}

async function echoingServer(pad = ''): Promise<FakePop3Server> {
  const server = await startFakePop3({
    capabilities: ['TOP', 'UIDL', 'USER', 'RESP-CODES', 'SASL PLAIN LOGIN CRAM-MD5 XOAUTH2 OAUTHBEARER SCRAM-SHA-1 SCRAM-SHA-256'],
    onCommand: async (cmd, s) => {
      if (cmd.verb === 'USER') await s.writeLine('+OK');
      else if (cmd.verb === 'PASS' || cmd.verb === 'APOP' || cmd.verb === 'XECHO') await echoError(s, pad, [cmd.raw]);
      else if (cmd.verb === 'AUTH' && cmd.args.length > 0) await saslEcho(cmd, s, pad);
      else return false;
      return true;
    },
  });
  servers.push(server);
  return server;
}

/** Everything about an error that could reach a log, cause chain included. */
function everything(err: unknown): string {
  const flat = (e: unknown): unknown => (e instanceof Error ? { ...e, name: e.name, message: e.message, stack: e.stack, cause: flat(e.cause) } : e);
  return JSON.stringify(flat(err));
}

/**
 * What must not appear: the secret (as typed, and its UTF-8 bytes read as latin1), its
 * base64 (alone, and inside any blob: the cores at the three alignments), and every blob
 * the client sent while authenticating with what it decodes to.
 */
function forbidden(secret: string, sentLines: string[], username: string): string[] {
  const utf8 = Buffer.from(secret, 'utf8');
  const forms = [secret, utf8.toString('latin1'), utf8.toString('base64')];
  for (let align = 0; align < 3; align++) {
    const text = Buffer.concat([Buffer.alloc(align, 0x41), utf8, Buffer.alloc(3, 0x41)]).toString('base64');
    const core = text.slice(Math.ceil((8 * align) / 6), Math.floor((8 * (align + utf8.length)) / 6));
    if (core.length >= 4) forms.push(core);
  }
  for (const line of sentLines) {
    const words = line.split(' ');
    // "*" cancels an exchange: nothing secret in it.
    if (['CAPA', 'USER', 'QUIT', '*'].includes(words[0]!)) continue;
    const blob = words[0] === 'PASS' ? words.slice(1).join(' ') : words[0] === 'APOP' ? words[2] : words[0] === 'AUTH' ? words[2] : line;
    if (blob === undefined || blob === '' || blob === Buffer.from(username).toString('base64')) continue;
    forms.push(blob);
    const plain = Buffer.from(blob, 'base64').toString('latin1');
    if (/^[A-Za-z0-9+/]+=*$/.test(blob) && plain.length >= 4) forms.push(plain, plain.split(' ').pop()!);
    // SCRAM's client-final: its proof, which the salt lets anyone brute-force offline.
    const proof = /,p=([^,]+)$/.exec(plain)?.[1];
    if (proof !== undefined) forms.push(proof);
  }
  return [...new Set(forms)].filter((f) => f.length > 0);
}

type Case = { auth: AuthMechanismName; token?: boolean; twoStep?: boolean; longUser?: boolean };
const CASES: Case[] = [
  { auth: 'USER' },
  { auth: 'APOP' },
  { auth: 'PLAIN' },
  { auth: 'PLAIN', longUser: true }, // initial response withheld (RFC 5034: command over 255 octets)
  { auth: 'LOGIN' },
  { auth: 'CRAM-MD5' },
  { auth: 'SCRAM-SHA-1' },
  { auth: 'SCRAM-SHA-256' }, // the client-final's proof (p=), with the salt, can be brute-forced offline
  { auth: 'XOAUTH2', token: true },
  { auth: 'XOAUTH2', token: true, twoStep: true },
  { auth: 'OAUTHBEARER', token: true },
];
const SECRETS: { name: string; secret: string; pad?: string }[] = [
  { name: 'one character', secret: '#' },
  { name: 'three characters', secret: 'k9!' },
  { name: 'non-ASCII', secret: 'pässQwördZ€' },
  { name: 'long, echoed after 190 characters of padding', secret: 'L0ng-Secret-Password-Value-42', pad: 'x'.repeat(190) },
];

describe('an echoing server gets no secret into errors or traces', () => {
  for (const { name, secret, pad } of SECRETS) {
    it(`password ${name}: USER/PASS, APOP, PLAIN (inline and withheld), LOGIN, CRAM-MD5, SCRAM, XOAUTH2 (one- and two-step), OAUTHBEARER`, async () => {
      const server = await echoingServer(pad);
      for (const c of CASES) {
        const trace: string[] = [];
        const username = c.longUser ? `u${'s'.repeat(200)}` : 'alice';
        const options: Pop3SessionOptions = {
          host: '127.0.0.1',
          port: server.port,
          tls: 'none',
          allowPlaintextAuth: true,
          username,
          auth: c.auth,
          ...(c.token ? { accessToken: secret, xoauth2TwoStep: c.twoStep ?? false } : { password: secret }),
          trace: (e) => trace.push(e.line),
        };
        const before = server.commands.length;
        const err = await openSession(options).then(
          () => undefined,
          (e: unknown) => e,
        );
        const label = `${c.auth}${c.twoStep ? ' two-step' : ''}${c.longUser ? ' withheld' : ''}`;
        expect(err, label).toBeInstanceOf(Pop3Error);
        // Padded, the token mechanisms' echoing error challenge is no longer base64: cancelled.
        expect((err as Pop3Error).code, label).toBe(c.token && pad ? Pop3ErrorCode.AUTH_CANCELLED : Pop3ErrorCode.AUTH_FAILED);
        expect((err as Pop3Error).serverText, label).toContain('you sent:');
        const sent = server.commands.slice(before).map((l) => l.line);
        const places = [(err as Pop3Error).message, (err as Pop3Error).serverText ?? '', everything(err), ...trace];
        for (const form of forbidden(secret, sent, username)) {
          for (const place of places) expect(place.includes(form), `${label}: ${JSON.stringify(form)} in ${JSON.stringify(place)}`).toBe(false);
        }
      }
    });
  }
});

describe('a one-character secret that is part of a status keyword', () => {
  it('does not break the replies ("O" in "+OK"), and is scrubbed from their text', async () => {
    const server = await startFakePop3({ password: 'O', onCommand: async (cmd, s) => (cmd.verb === 'NOOP' ? (await s.writeLine('+OK Oh, NOOP'), true) : false) });
    servers.push(server);
    const trace: string[] = [];
    const c = await openSession({ host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'O', auth: 'USER', trace: (e) => trace.push(e.line) });
    expect((await c.command('NOOP')).text).toBe('***h, N******P');
    await c.quit();
    expect(trace).toContain('+OK ***h, N******P');
    expect(trace).toContain('PASS ***');
  });
});

describe('a direct Pop3Client user', () => {
  it('gets the secrets it names scrubbed from errors, serverText and every trace line', async () => {
    const server = await echoingServer('y'.repeat(190));
    const trace: string[] = [];
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none', secrets: ['hunter2-direct', 'Ω'], trace: (e) => trace.push(e.line) });
    const err = await c.command('XECHO hunter2-direct Ω').then(
      () => undefined,
      (e: unknown) => e as Pop3Error,
    );
    expect(err?.code).toBe(Pop3ErrorCode.AUTH_FAILED);
    // The server line is traced whole (serverText is cut at 200 characters, after scrubbing).
    expect(trace.some((l) => l.startsWith('-ERR [AUTH] yyy') && l.includes('you sent: XECHO *** ***'))).toBe(true);
    for (const place of [err!.message, err!.serverText ?? '', everything(err), ...trace]) {
      expect(place).not.toContain('hunter2');
      expect(place).not.toContain(Buffer.from('Ω').toString('latin1'));
    }
    expect(trace).toContain('XECHO *** ***');
    c.close();
  });

  it('gets the password given to userPass scrubbed without naming it', async () => {
    const server = await echoingServer();
    const c = await Pop3Client.connect({ host: '127.0.0.1', port: server.port, tls: 'none' });
    const err = await c.userPass('alice', 'only-here-pw').then(
      () => undefined,
      (e: unknown) => e as Pop3Error,
    );
    expect(err?.code).toBe(Pop3ErrorCode.AUTH_FAILED);
    expect(everything(err)).not.toContain('only-here-pw');
    expect(everything(err)).not.toContain(Buffer.from('only-here-pw').toString('base64'));
    c.close();
  });
});

describe('SecretScrubber', () => {
  it('finds a secret in any base64 blob that contains it, at any offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 40 }), fc.uint8Array({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (secret, before, after) => {
        const blob = Buffer.concat([Buffer.from(before), Buffer.from(secret), Buffer.from(after)]).toString('base64');
        const cores = base64Cores(Buffer.from(secret));
        expect(cores).toHaveLength(3);
        expect(cores.some((core) => blob.includes(core))).toBe(true);
      }),
    );
  });

  it('keeps a status keyword that a one-character secret happens to be part of', () => {
    const scrubber = new SecretScrubber();
    scrubber.addSecret('O');
    expect(scrubber.scrubLine(b('+OK Only one'), 3).toString('latin1')).toBe('+OK ***nly one');
    scrubber.addSecret('Kx1');
    expect(scrubber.scrubLine(b('+OKx1'), 3).toString('latin1')).toBe('+******'); // runs across the keyword: all scrubbed
  });

  it('scrubs secrets of any length, byte-exactly, and leaves lines without one untouched', () => {
    const scrubber = new SecretScrubber();
    scrubber.addSecret('q');
    scrubber.addSecret('€uro');
    const line = Buffer.concat([b('-ERR q and '), Buffer.from('€uro', 'utf8'), b(' \xff')]);
    expect(scrubber.scrubLine(line).toString('latin1')).toBe('-ERR *** and *** \xff');
    const clean = b('+OK nothing here');
    expect(scrubber.scrubLine(clean)).toBe(clean);
  });

  it('holdsBytes finds a form inside a byte range exactly when scrubbing that range would change it', () => {
    const word = fc.stringMatching(/^[a-c€\xe9]{1,5}$/);
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 3 }), fc.uint8Array({ maxLength: 24 }), fc.nat(), fc.nat(), (secrets, raw, x, y) => {
        const scrubber = new SecretScrubber();
        for (const secret of secrets) scrubber.addSecret(secret);
        // Bytes mostly from the secrets' own letters (in both encodings), so forms do occur.
        const alphabet = Buffer.concat([b('abc'), Buffer.from('€\xe9', 'utf8'), b('\xe9')]);
        const bytes = Buffer.from(raw.map((v) => alphabet[v % alphabet.length]!));
        const [start, end] = [x % (bytes.length + 1), y % (bytes.length + 1)].sort((p, q) => p - q) as [number, number];
        const range = Buffer.from(bytes.subarray(start, end));
        expect(scrubber.holdsBytes(bytes, start, end), range.toString('latin1')).toBe(scrubber.scrubLine(range) !== range);
      }),
      fuzzParams(500),
    );
  });
});
