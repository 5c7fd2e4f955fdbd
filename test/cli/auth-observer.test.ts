/** What `mailfetch check` reports as the login, read from the protocol trace. */
import { describe, expect, it } from 'vitest';
import { AuthObserver } from '../../lambda/cli/trace';

function observe(lines: string[]): AuthObserver {
  const auth = new AuthObserver();
  for (const l of lines) auth.onTrace({ direction: l.startsWith('C: ') ? 'client' : 'server', line: l.slice(3) });
  return auth;
}

describe('AuthObserver', () => {
  it('does not take the bare AUTH listing for a login', () => {
    const listed = observe(['C: CAPA', 'S: -ERR', 'C: AUTH', 'S: +OK', 'C: AUTH CRAM-MD5', 'S: + PDEyMz4=', 'C: ***', 'S: -ERR [AUTH] no']);
    expect([listed.mechanism, listed.outcome]).toEqual(['CRAM-MD5', 'failed']);
    const refused = observe(['C: AUTH', 'S: -ERR unknown command', 'C: USER alice', 'S: +OK', 'C: PASS ***', 'S: +OK logged in']);
    expect([refused.mechanism, refused.outcome]).toEqual(['USER', 'ok']);
    expect(observe(['C: AUTH', 'S: +OK']).outcome).toBe('not attempted');
  });
});
