/**
 * The cross product of the matrix: security mode x login mechanism x (pipelined, lock-step)
 * x (keep, delete), without the pairs of a TLS-only mechanism (EXTERNAL) and plaintext.
 * Dovecot, the reference server, gets the full product; the others a reduced one that still
 * covers every mode, every mechanism, both pipelining settings and both retention modes
 * (INTEROP_FULL=1 runs the full product everywhere).
 */
import type { AuthMechanismName } from '../../lambda/pop3';
import type { SecurityMode, ServerProfile } from './servers/types';

export type Retention = 'keep' | 'delete';

export interface Combination {
  readonly mode: SecurityMode;
  readonly mechanism: AuthMechanismName;
  readonly pipelining: boolean;
  readonly retention: Retention;
}

/** Columns of the results table. */
export const FEATURES = ['STLS', 'implicit TLS', 'plaintext', 'USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'EXTERNAL', 'pipelining', 'lock-step', 'keep', 'delete'] as const;
export type Feature = (typeof FEATURES)[number];

const MODE_FEATURE: Readonly<Record<SecurityMode, Feature>> = { starttls: 'STLS', implicit: 'implicit TLS', none: 'plaintext' };

/** Mechanisms whose credential lives in the TLS handshake (a client certificate): no plaintext cells. */
const TLS_ONLY_MECHANISMS: ReadonlySet<AuthMechanismName> = new Set(['EXTERNAL']);

/** Whether the matrix has a cell for this mode and mechanism. */
function usable(mode: SecurityMode, mechanism: AuthMechanismName): boolean {
  return mode !== 'none' || !TLS_ONLY_MECHANISMS.has(mechanism);
}

/** (pipelining, retention) variants, in the order the reduced product rotates through them. */
const VARIANTS: readonly { pipelining: boolean; retention: Retention }[] = [
  { pipelining: true, retention: 'keep' },
  { pipelining: false, retention: 'delete' },
  { pipelining: true, retention: 'delete' },
  { pipelining: false, retention: 'keep' },
];

export function combinations(profile: ServerProfile, full: boolean): Combination[] {
  const pairs = profile.modes.flatMap((mode) => profile.mechanisms.filter((mechanism) => usable(mode, mechanism)).map((mechanism) => ({ mode, mechanism })));
  if (full) return pairs.flatMap((pair) => VARIANTS.map((v) => ({ ...pair, ...v })));
  const out = pairs.map((pair, i) => ({ ...pair, ...VARIANTS[i % VARIANTS.length]! }));
  // Too few pairs to rotate through every variant (popa3d has one): the first pair gets the rest.
  for (const v of VARIANTS.slice(pairs.length)) out.push({ ...pairs[0]!, ...v });
  return out;
}

/** The table columns a combination exercises. Pipelining counts only where it is offered. */
export function featuresOf(profile: ServerProfile, c: Combination): Feature[] {
  return [MODE_FEATURE[c.mode], c.mechanism as Feature, c.pipelining && profile.pipelining ? 'pipelining' : 'lock-step', c.retention];
}

export function describeCombination(c: Combination): string {
  const mode = { starttls: 'STLS', implicit: 'implicit TLS', none: 'plaintext' }[c.mode];
  return `${mode} | ${c.mechanism} | ${c.pipelining ? 'pipelined' : 'lock-step'} | ${c.retention}`;
}
