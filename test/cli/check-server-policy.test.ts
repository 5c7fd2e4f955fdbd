/**
 * `mailfetch check` and the server's announced policy (RFC 2449): EXPIRE, with a `keep`
 * retention it overrules reported as a warning (the check still passes), LOGIN-DELAY, and
 * the next login the last run recorded. In process, against the fake POP3 server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { checkMailbox, checkText, type StateView } from '../../lambda/cli/check-command';
import { parseMailbox } from '../../lambda/config/validate-config';
import { OAuthTokenProvider } from '../../lambda/credentials/oauth-token-provider';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import { createLogger } from '../../lambda/observability/logger';
import { FileMailboxRegistry } from '../../lambda/registry/file-mailbox-registry';
import { RETENTION_OVERRULED } from '../../lambda/sync/retrieval-rule';
import { startFakePop3, type FakePop3Profile, type FakePop3Server } from '../fixtures/fake-pop3-server';
import { expireZero, loginDelay } from '../fixtures/pop3-profiles';

const PASSWORD_ENV = 'MF_CHECK_POLICY_PASSWORD';
const secrets = new SecretResolver({ env: { [PASSWORD_ENV]: 'secret' } });
const credentials = { secrets, oauth: new OAuthTokenProvider({ secrets }) };
const log = createLogger({}, { write: () => {} });
const servers: FakePop3Server[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

async function check(profiles: FakePop3Profile[], fields: Record<string, unknown>, registry?: FileMailboxRegistry): Promise<ReturnType<typeof checkMailbox>> {
  const server = await startFakePop3({ profiles });
  servers.push(server);
  const mailbox = parseMailbox({ id: 'box', host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: { env: PASSWORD_ENV }, ...fields });
  const state: StateView = { store: undefined, reason: 'no state here', nothingRecorded: true, local: true, close: async () => {}, ...(registry ? { registry } : {}) };
  return checkMailbox(mailbox, { credentials, state, log, verbose: false });
}

describe('check: the server policy', () => {
  it('EXPIRE 0 against retention keep: a warning with the server policy, the check still ok', async () => {
    const report = await check([expireZero()], { retention: 'keep' });
    expect(report).toMatchObject({ ok: true, policy: { expireDays: 0, loginDelaySeconds: null }, warnings: [{ code: RETENTION_OVERRULED }] });
    const text = checkText(report);
    expect(text).toMatch(/policy\s+EXPIRE 0: every message a session reads \(RETR or TOP\) is deleted when it ends/);
    expect(text).toMatch(/warning\s+RETENTION_OVERRULED: retention is "keep", but the server announces EXPIRE 0/);
    expect(text).toMatch(/result\s+ok/);
  });

  it('EXPIRE 0 with retention delete: no warning', async () => {
    const report = await check([expireZero({ announce: 'per-user' })], { retention: 'delete' });
    expect(report).toMatchObject({ ok: true, policy: { expireDays: 0 }, warnings: [] });
  });

  it("LOGIN-DELAY: announced, and the next login the last run recorded while it is ahead", async () => {
    const registry = new FileMailboxRegistry({ mailboxes: [parseMailbox({ id: 'box', host: 'h', username: 'u', password: { env: PASSWORD_ENV } })] }, 'test');
    const nextLoginAt = new Date(Date.now() + 10 * 60_000).toISOString();
    await registry.recordRun('box', { action: 'fetch', status: 'ok', at: new Date().toISOString(), backlog: 0, durationMs: 1, loginDelay: { seconds: 900, nextLoginAt } });
    const report = await check([loginDelay({ seconds: 900, enforce: false })], {}, registry);
    expect(report).toMatchObject({ ok: true, policy: { loginDelaySeconds: 900 }, nextLoginAt, warnings: [] });
    const text = checkText(report);
    expect(text).toMatch(/policy\s+LOGIN-DELAY 900 s: scheduled runs are no more frequent than that/);
    expect(text).toContain(`next login   ${nextLoginAt}: scheduled runs wait for the server's LOGIN-DELAY`);
  });

  it('a server that announces nothing: no policy lines', async () => {
    const report = await check([], {});
    expect(report).toMatchObject({ policy: { expireDays: null, loginDelaySeconds: null }, nextLoginAt: null, warnings: [] });
    expect(checkText(report)).not.toMatch(/policy|next login|warning/);
  });
});
