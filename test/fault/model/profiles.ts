/**
 * The server-semantics combinations a sequence may pick, and the fake server's profiles
 * for a configuration. Every decision a profile makes derives from the sequence's seed.
 */
import type { FakePop3Profile, FakePop3Server } from '../../fixtures/fake-pop3-server';
import { bareLf, estimatedSizes, expireZero, flakyUidl, gmail, headerHash, recycledUidl, SHARED_UIDL_HEADERS, sharedUidl, slowQuit } from '../../fixtures/pop3-profiles';
import { Prng } from '../prng';
import type { ProfileName, SequenceConfig } from './types';

/**
 * [weight, combination]: each alone, and the pairs whose interplay matters. Not gmail with
 * bare-lf: Gmail sends CRLF, and a message the worker must skip would keep its place at
 * the head of every Gmail listing (see generate.ts).
 */
export const COMBINATIONS: readonly (readonly [number, readonly ProfileName[]])[] = [
  [4, []],
  [5, ['gmail']],
  [5, ['shared-uidl']],
  [5, ['recycled-uidl']],
  [3, ['flaky-uidl']],
  [4, ['bare-lf']],
  [3, ['estimated-sizes']],
  [4, ['gmail', 'flaky-uidl']],
  [5, ['shared-uidl', 'recycled-uidl']],
  [3, ['gmail', 'shared-uidl']],
  [3, ['gmail', 'recycled-uidl']],
  [3, ['recycled-uidl', 'estimated-sizes']],
  [3, ['shared-uidl', 'estimated-sizes']],
  [3, ['bare-lf', 'shared-uidl']],
  [3, ['bare-lf', 'estimated-sizes']],
  [2, ['shared-uidl', 'recycled-uidl', 'flaky-uidl']],
  [2, ['recycled-uidl', 'slow-quit']],
];

/**
 * The semantics a server announcing EXPIRE 0 is modelled with: a drawn combination of only
 * these may get expire-zero added (see generate.ts). Not gmail (its own rule for retrieved
 * mail); not shared-uidl: the identities of a shared UIDL need TOP, which condemns a
 * message there, so a twin the worker skips (too large) withholds every QUIT: nothing is
 * lost, but nothing settles (test/sync/expire-zero.test.ts shows it).
 */
export const COMPOSES_WITH_EXPIRE_ZERO: ReadonlySet<ProfileName> = new Set<ProfileName>(['recycled-uidl', 'flaky-uidl', 'bare-lf', 'estimated-sizes', 'slow-quit']);
/** Share of those combinations that get expire-zero. */
export const EXPIRE_ZERO_SHARE = 0.3;

/** Share of sessions whose UIDL fails while flaky-uidl is on. */
const FLAKY_SESSION_SHARE = 0.4;
const SLOW_QUIT_MS = 15;
const EXPIRE_ANNOUNCEMENTS = ['glued', 'per-user', 'after-login'] as const;

/** `flaky.on` is switched off for the clean runs at the end (the server recovered). */
export function buildProfiles(config: SequenceConfig, flaky: { on: boolean }): FakePop3Profile[] {
  return config.profiles.map((name): FakePop3Profile => {
    switch (name) {
      case 'gmail':
        return gmail({ perSession: config.perSession });
      case 'shared-uidl':
        return sharedUidl();
      case 'recycled-uidl':
        return recycledUidl();
      case 'flaky-uidl':
        return flakyUidl({ fails: (session) => flaky.on && new Prng(config.seed).fork(`flaky-uidl/${session}`).chance(FLAKY_SESSION_SHARE) });
      case 'bare-lf':
        return bareLf();
      case 'estimated-sizes':
        return estimatedSizes({ seed: config.seed });
      case 'slow-quit':
        return slowQuit({ delayMs: SLOW_QUIT_MS });
      case 'expire-zero':
        return expireZero({ announce: new Prng(config.seed).fork('expire-zero').pick(EXPIRE_ANNOUNCEMENTS) });
    }
  });
}

const HASHED = new Set<string>(SHARED_UIDL_HEADERS);
const recycler = recycledUidl();

/** The UIDL of new mail when a step names its scheme (shared-uidl and recycled-uidl both on). */
export function uidFor(scheme: 'shared-uidl' | 'recycled-uidl' | undefined, bytes: Buffer, server: FakePop3Server): string | undefined {
  if (scheme === 'shared-uidl') return headerHash(bytes, HASHED);
  if (scheme === 'recycled-uidl') return recycler.assignUid!(bytes, server);
  return undefined;
}
