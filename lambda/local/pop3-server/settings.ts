// The fake server's options with their defaults applied once, shared by all its sessions.
import { DEFAULT_MECHANISMS } from './fake-pop3-auth';
import type { FakePop3Options, FakeScramOptions } from './fake-pop3-types';

const DEFAULT_CAPABILITIES = ['TOP', 'UIDL', 'USER', 'RESP-CODES', 'PIPELINING', `SASL ${DEFAULT_MECHANISMS.join(' ')}`];
const DEFAULT_GREETING = '+OK fake POP3 ready <1896.697170952@fake>';
/** Capabilities that only make sense before login, dropped from the default after-login list. */
const LOGIN_ONLY_CAPABILITIES = new Set(['USER', 'SASL', 'STLS']);

export interface Settings {
  readonly user: string;
  readonly password: string;
  readonly oauthTokens: readonly string[];
  readonly xoauth2TwoStep: boolean;
  readonly greeting: Buffer;
  readonly implicitTls: boolean;
  readonly tlsMaxVersion: FakePop3Options['tlsMaxVersion'];
  readonly scram: Required<Omit<FakeScramOptions, 'misbehave' | 'serverError'>> & Pick<FakeScramOptions, 'misbehave' | 'serverError'>;
  readonly stls: boolean;
  readonly capabilities: readonly string[] | null;
  readonly capabilitiesAfterLogin: readonly string[] | null;
  readonly chunkSizes: readonly number[] | undefined;
  readonly onCommand: FakePop3Options['onCommand'];
  readonly onConnect: FakePop3Options['onConnect'];
  readonly onCommit: FakePop3Options['onCommit'];
  readonly clock: () => number;
}

export function resolveSettings(o: FakePop3Options): Settings {
  if ((o.tls === 'implicit' || o.stls) && !o.pki) throw new Error('startFakePop3: TLS needs `pki` (see makeTestPki)');
  if (o.chunkSizes?.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('startFakePop3: chunkSizes must be positive integers');
  const capabilities = o.capabilities === undefined ? DEFAULT_CAPABILITIES : o.capabilities;
  const greeting = o.greeting ?? DEFAULT_GREETING;
  return {
    user: o.user ?? 'alice',
    password: o.password ?? 'secret',
    oauthTokens: o.oauthTokens ?? [],
    xoauth2TwoStep: o.xoauth2TwoStep ?? false,
    greeting: typeof greeting === 'string' ? Buffer.from(`${greeting}\r\n`, 'latin1') : greeting,
    implicitTls: o.tls === 'implicit',
    tlsMaxVersion: o.tlsMaxVersion,
    scram: { iterations: 4096, endPointHash: 'sha256', ...o.scram },
    stls: o.stls ?? false,
    capabilities,
    capabilitiesAfterLogin: o.capabilitiesAfterLogin ?? capabilities?.filter((c) => !LOGIN_ONLY_CAPABILITIES.has(capName(c))) ?? null,
    chunkSizes: o.chunkSizes?.length ? o.chunkSizes : undefined,
    onCommand: o.onCommand,
    onConnect: o.onConnect,
    onCommit: o.onCommit,
    clock: o.clock ?? Date.now,
  };
}

/** The keyword of a capability line, upper-cased ("SASL PLAIN" -> "SASL"). */
export function capName(capability: string): string {
  return (capability.split(' ')[0] ?? '').toUpperCase();
}
