/**
 * Whole-suite guard (vitest setupFiles): any promise rejection that nothing handled, at
 * any time while a test file runs, fails the test it happened in (or the file, if between
 * tests). The worker must never leave a rejection unobserved: on Lambda one is a crashed
 * invocation with no summary, no metrics and a held lease.
 */
import { afterAll, afterEach } from 'vitest';

const GUARD = Symbol.for('mailfetch.unhandledRejectionGuard');

interface Guard {
  readonly seen: unknown[];
}

function install(): Guard {
  const holder = globalThis as unknown as Record<symbol, Guard | undefined>;
  const existing = holder[GUARD];
  if (existing) return existing;
  const guard: Guard = { seen: [] };
  process.on('unhandledRejection', (reason) => {
    guard.seen.push(reason);
  });
  holder[GUARD] = guard;
  return guard;
}

/** Throws when rejections went unhandled since the last call (and forgets them). */
export function assertNoUnhandledRejections(guard: Guard, when: string): void {
  const seen = guard.seen.splice(0);
  if (seen.length === 0) return;
  const shown = seen.map((r) => (r instanceof Error ? `${r.name}: ${r.message}` : String(r))).join('; ');
  throw new Error(`${seen.length} unhandled promise rejection(s) ${when}: ${shown}`);
}

const guard = install();
afterEach(async () => {
  // A rejection becomes "unhandled" a turn after the fact: give it that turn.
  await new Promise((resolve) => setImmediate(resolve));
  assertNoUnhandledRejections(guard, 'during this test');
});
afterAll(async () => {
  await new Promise((resolve) => setImmediate(resolve));
  assertNoUnhandledRejections(guard, 'in this file, outside any test');
});
