/** Registers one quirk test whose outcome is booked under the quirk's name in the results. */
import { it } from 'vitest';
import type { QuirkContext } from './context';

/** `names`: the quirks this test proves (a test may prove several at once). */
export function quirkTest(ctx: QuirkContext, names: readonly string[], body: () => Promise<void>): void {
  it(`${ctx.profile.name} quirk: ${names.join(' + ')}`, () => track(ctx, names, body));
}

/**
 * A quirk the worker does not handle yet (reported, not fixed here). `it.fails` keeps the
 * suite green while the bug exists and turns red once it is fixed: then use quirkTest.
 * The results table shows it as failed either way.
 */
export function knownBugTest(ctx: QuirkContext, name: string, body: () => Promise<void>): void {
  it.fails(`${ctx.profile.name} KNOWN BUG: ${name}`, () => track(ctx, [name], body));
}

function track(ctx: QuirkContext, names: readonly string[], body: () => Promise<void>): Promise<void> {
  return ctx.results.track((passed) => {
    for (const name of names) ctx.results.quirk(ctx.profile, name, passed);
  }, body);
}
