import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { OAuthConfig } from '../../lambda/config/mailbox-config';
import { CredentialErrorCode } from '../../lambda/credentials/credential-error';
import type { CredentialSlot } from '../../lambda/credentials/credential-slot';
import { DataKeyRing } from '../../lambda/credentials/data-key-ring';
import { OAuthTokenProvider } from '../../lambda/credentials/oauth-token-provider';
import { SealedCredentialStore } from '../../lambda/credentials/sealed-credential-store';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import { parseMailbox } from '../../lambda/config/validate-config';
import { startLocalKms, type LocalKms } from '../../lambda/local/local-kms';
import { DynamoDbMailboxRegistry } from '../../lambda/registry/dynamodb-mailbox-registry';
import { ensureTable } from '../../lambda/state/table-schema';
import { startDynalite, type LocalDynamo } from '../fixtures/aws-local';
import { startFakeSecretsManager, type FakeSecretsManager } from '../fixtures/fake-secrets-manager';
import { failure } from './credential-failure';

const CLIENT_SECRET = 'client-secret-V8Q~do-not-leak';
const REFRESH_TOKEN = '1//refresh-token-do-not-leak';

interface TokenRequest {
  readonly headers: IncomingMessage['headers'];
  readonly form: Record<string, string>;
}

type Reply = (req: TokenRequest, res: ServerResponse) => void;

/** A token endpoint on loopback: records each request's form and answers with `reply`. */
interface TokenEndpoint {
  readonly url: string;
  readonly requests: TokenRequest[];
  reply: Reply;
}

let sm: FakeSecretsManager;
let server: Server;
let endpoint: TokenEndpoint;

beforeAll(async () => {
  sm = await startFakeSecretsManager();
  const requests: TokenRequest[] = [];
  server = createServer((req, res) => {
    // One connection per request: afterEach drops connections, and a pooled socket the
    // client has not yet seen closed would fail the next test's request.
    res.setHeader('connection', 'close');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const request = { headers: req.headers, form: Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))) };
      requests.push(request);
      endpoint.reply(request, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/tenant/oauth2/v2.0/token`, requests, reply: () => undefined };
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await sm.close();
});

beforeEach(() => {
  endpoint.requests.length = 0;
  endpoint.reply = json(200, { access_token: 'access-1', token_type: 'Bearer', expires_in: 3600 });
  sm.secrets.clear();
  sm.resetCalls();
});

afterEach(() => {
  // A hanging reply leaves its socket open; drop it so the next test starts clean.
  server.closeAllConnections();
});

function json(status: number, body: unknown): Reply {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
}

/** A provider whose clock the test moves, reading secrets from the fake Secrets Manager. */
function setup(options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): { provider: OAuthTokenProvider; advance(ms: number): void } {
  let now = 1_000_000;
  const secrets = new SecretResolver({ client: sm.createClient(), env: options.env ?? {}, now: () => now });
  const provider = new OAuthTokenProvider({ secrets, now: () => now, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) });
  return { provider, advance: (ms) => void (now += ms) };
}

function clientCredentials(): OAuthConfig {
  sm.secrets.set('m365', JSON.stringify({ clientSecret: CLIENT_SECRET }));
  return {
    grant: 'client_credentials',
    tokenEndpoint: endpoint.url,
    clientId: 'app-id',
    clientSecret: { secretId: 'm365', key: 'clientSecret' },
    scope: 'https://outlook.office365.com/.default',
  };
}

function refreshGrant(): OAuthConfig {
  sm.secrets.set('gmail', JSON.stringify({ clientSecret: CLIENT_SECRET, refreshToken: REFRESH_TOKEN }));
  return {
    grant: 'refresh_token',
    tokenEndpoint: endpoint.url,
    clientId: 'gmail-client',
    clientSecret: { secretId: 'gmail', key: 'clientSecret' },
    refreshToken: { secretId: 'gmail', key: 'refreshToken' },
  };
}

describe('OAuthTokenProvider, client_credentials', () => {
  it('posts the form, then serves the token from the cache until the refresh margin', async () => {
    const { provider, advance } = setup();
    const config = clientCredentials();

    expect(await provider.getAccessToken('m365', config)).toBe('access-1');
    expect(await provider.getAccessToken('m365', config)).toBe('access-1');

    expect(endpoint.requests).toHaveLength(1);
    expect(endpoint.requests[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(endpoint.requests[0]!.form).toEqual({
      grant_type: 'client_credentials',
      client_id: 'app-id',
      client_secret: CLIENT_SECRET,
      scope: 'https://outlook.office365.com/.default',
    });

    // 3600 s token, 5 min margin: cached for 55 minutes.
    endpoint.reply = json(200, { access_token: 'access-2', expires_in: 3600 });
    advance(55 * 60_000 - 1);
    expect(await provider.getAccessToken('m365', config)).toBe('access-1');
    advance(1);
    expect(await provider.getAccessToken('m365', config)).toBe('access-2');
    expect(endpoint.requests).toHaveLength(2);
  });

  it('keeps tokens apart per mailbox, and shares one request between concurrent calls', async () => {
    const { provider } = setup();
    const config = clientCredentials();

    await Promise.all([provider.getAccessToken('a', config), provider.getAccessToken('a', config), provider.getAccessToken('a', config)]);
    expect(endpoint.requests).toHaveLength(1);
    await provider.getAccessToken('b', config);
    expect(endpoint.requests).toHaveLength(2);
  });

  it('uses a short-lived token for half its life and defaults a missing expires_in to an hour', async () => {
    const { provider, advance } = setup();
    const config = clientCredentials();
    endpoint.reply = json(200, { access_token: 'short', expires_in: '120' });

    await provider.getAccessToken('m', config);
    advance(59_999);
    await provider.getAccessToken('m', config);
    expect(endpoint.requests).toHaveLength(1);
    advance(1);
    endpoint.reply = json(200, { access_token: 'no-expiry' });
    expect(await provider.getAccessToken('m', config)).toBe('no-expiry');
    advance(55 * 60_000 - 1);
    expect(await provider.getAccessToken('m', config)).toBe('no-expiry');
    expect(endpoint.requests).toHaveLength(2);
  });
});

describe('OAuthTokenProvider, refresh_token', () => {
  it('sends the refresh token and writes a rotated one back into its JSON secret', async () => {
    const { provider, advance } = setup();
    const config = refreshGrant();
    endpoint.reply = json(200, { access_token: 'access-1', expires_in: 3600, refresh_token: 'rotated-2' });

    expect(await provider.getAccessToken('gmail', config)).toBe('access-1');

    expect(endpoint.requests[0]!.form).toEqual({
      grant_type: 'refresh_token',
      client_id: 'gmail-client',
      refresh_token: REFRESH_TOKEN,
      client_secret: CLIENT_SECRET,
    });
    expect(JSON.parse(sm.secrets.get('gmail') as string)).toEqual({ clientSecret: CLIENT_SECRET, refreshToken: 'rotated-2' });
    expect(sm.calls('PutSecretValue')).toBe(1);

    // The next refresh uses the rotated token; an unchanged one is not written again.
    endpoint.reply = json(200, { access_token: 'access-2', expires_in: 3600, refresh_token: 'rotated-2' });
    advance(3600_000);
    expect(await provider.getAccessToken('gmail', config)).toBe('access-2');
    expect(endpoint.requests[1]!.form.refresh_token).toBe('rotated-2');
    expect(sm.calls('PutSecretValue')).toBe(1);
  });

  it('keeps a rotated token from an env reference in memory only', async () => {
    const env = { RT: 'env-refresh-token' };
    const { provider, advance } = setup({ env });
    const config: OAuthConfig = { grant: 'refresh_token', tokenEndpoint: endpoint.url, clientId: 'c', refreshToken: { env: 'RT' }, scope: 'mail' };
    endpoint.reply = json(200, { access_token: 'a1', refresh_token: 'env-rotated' });

    await provider.getAccessToken('m', config);
    advance(3600_000);
    await provider.getAccessToken('m', config);

    expect(endpoint.requests.map((r) => r.form)).toEqual([
      { grant_type: 'refresh_token', client_id: 'c', refresh_token: 'env-refresh-token', scope: 'mail' },
      { grant_type: 'refresh_token', client_id: 'c', refresh_token: 'env-rotated', scope: 'mail' },
    ]);
    expect(env.RT).toBe('env-refresh-token');
    expect(sm.calls()).toBe(0);
  });

  it('reports a failed write-back, keeps the access token, and retries the write on the next call', async () => {
    const { provider } = setup();
    const config = refreshGrant();
    endpoint.reply = json(200, { access_token: 'access-1', refresh_token: 'rotated-secret-token' });
    sm.failNext('PutSecretValue', { status: 400, type: 'AccessDeniedException', message: 'not authorized' });

    const err = await failure(provider.getAccessToken('gmail', config));

    expect(err).toMatchObject({ code: CredentialErrorCode.SECRET_ACCESS_DENIED, retryable: false });
    expect(err.message).toMatch(/^mailbox "gmail": the token endpoint rotated the refresh token, and writing it to secret "gmail" failed: access denied/);
    expect(err.message).not.toContain('rotated-secret-token');
    expect(await provider.getAccessToken('gmail', config)).toBe('access-1');
    expect(endpoint.requests).toHaveLength(1);
    expect(JSON.parse(sm.secrets.get('gmail') as string).refreshToken).toBe('rotated-secret-token');
  });
});

describe('OAuthTokenProvider failures', () => {
  it('maps invalid_grant to TOKEN_INVALID, not retryable, with every secret scrubbed from the description', async () => {
    const { provider } = setup();
    const config = refreshGrant();
    endpoint.reply = (req, res) =>
      json(400, {
        error: 'invalid_grant',
        error_description: `Token has been expired or revoked. token=${req.form.refresh_token} secret=${req.form.client_secret}\u0007`,
      })(req, res);

    const err = await failure(provider.getAccessToken('gmail', config));

    expect(err).toMatchObject({ code: CredentialErrorCode.TOKEN_INVALID, retryable: false });
    expect(err.message).toBe(
      `token request (refresh_token) for mailbox "gmail" to ${endpoint.url} was rejected ` +
        '(HTTP 400 invalid_grant: Token has been expired or revoked. token=*** secret=***?)',
    );
    expect(err.message).not.toContain(CLIENT_SECRET);
    expect(err.message).not.toContain(REFRESH_TOKEN);
  });

  it('maps invalid_client on HTTP 401 to TOKEN_INVALID and bounds a long description', async () => {
    const { provider } = setup();
    endpoint.reply = json(401, { error: 'invalid_client', error_description: `AADSTS7000215: Invalid client secret provided. ${'x '.repeat(400)}` });

    const err = await failure(provider.getAccessToken('m365', clientCredentials()));

    expect(err).toMatchObject({ code: CredentialErrorCode.TOKEN_INVALID, retryable: false });
    expect(err.message).toContain('(HTTP 401 invalid_client: AADSTS7000215: Invalid client secret provided.');
    expect(err.message.length).toBeLessThan(500);
  });

  it('maps 503 to TOKEN_REQUEST_FAILED, retryable, and caches nothing', async () => {
    const { provider } = setup();
    const config = clientCredentials();
    endpoint.reply = (_req, res) => {
      res.writeHead(503, { 'content-type': 'text/html' });
      res.end('<html>Service Unavailable</html>');
    };

    const err = await failure(provider.getAccessToken('m365', config));

    expect(err).toMatchObject({ code: CredentialErrorCode.TOKEN_REQUEST_FAILED, retryable: true });
    expect(err.message).toBe(`token request (client_credentials) for mailbox "m365" to ${endpoint.url} failed (HTTP 503)`);
    endpoint.reply = json(200, { access_token: 'after-outage' });
    expect(await provider.getAccessToken('m365', config)).toBe('after-outage');
  });

  it('gives up on a hanging endpoint after timeoutMs, retryable', async () => {
    const { provider } = setup({ timeoutMs: 150 });
    endpoint.reply = () => undefined; // never answers

    const started = Date.now();
    const err = await failure(provider.getAccessToken('m365', clientCredentials()));

    expect(err).toMatchObject({ code: CredentialErrorCode.TOKEN_REQUEST_FAILED, retryable: true });
    expect(err.message).toMatch(/ timed out after 150 ms$/);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('treats an answer without access_token as a failed request, and an unreachable endpoint as retryable', async () => {
    const { provider } = setup();
    const config = clientCredentials();
    endpoint.reply = json(200, { token_type: 'Bearer' });

    const noToken = await failure(provider.getAccessToken('m365', config));
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const unreachable = await failure(provider.getAccessToken('m365', { ...config, tokenEndpoint: `http://127.0.0.1:${closedPort}/token` }));

    expect(noToken).toMatchObject({ code: CredentialErrorCode.TOKEN_REQUEST_FAILED, message: expect.stringMatching(/answered HTTP 200 without an access_token$/) });
    expect(unreachable).toMatchObject({ code: CredentialErrorCode.TOKEN_REQUEST_FAILED, retryable: true });
    expect(unreachable.message).toMatch(/failed: fetch failed \(ECONNREFUSED\)$/);
  });

  it('does not follow a redirect with the client secret', async () => {
    const { provider } = setup();
    endpoint.reply = (_req, res) => {
      res.writeHead(307, { location: 'http://127.0.0.1:9/elsewhere' });
      res.end();
    };

    const err = await failure(provider.getAccessToken('m365', clientCredentials()));

    expect(err).toMatchObject({ code: CredentialErrorCode.TOKEN_REQUEST_FAILED, retryable: false });
    expect(err.message).toMatch(/answered with a redirect \(HTTP 307\)/);
  });
});

describe('OAuthTokenProvider, refresh_token sealed in the registry', () => {
  const TABLE = 'oauth-sealed';
  let dynamo: LocalDynamo;
  let kms: LocalKms;
  let registry: DynamoDbMailboxRegistry;
  /** The operator's sealing store (the CLI); each provider below gets its own, as a container would. */
  let operator: SealedCredentialStore;

  beforeAll(async () => {
    [dynamo, kms] = await Promise.all([startDynalite(), startLocalKms()]);
    await ensureTable(dynamo.dynamodb, TABLE);
    registry = new DynamoDbMailboxRegistry({ client: dynamo.dynamodb, tableName: TABLE });
    operator = store();
  });
  afterAll(async () => Promise.all([dynamo?.stop(), kms?.close()]));

  function store(): SealedCredentialStore {
    return new SealedCredentialStore(new DataKeyRing({ dynamodb: dynamo.dynamodb, tableName: TABLE, kms: kms.createClient(), kmsKeyId: kms.keyArn }));
  }
  const provider = (): OAuthTokenProvider => new OAuthTokenProvider({ secrets: new SecretResolver({ sealed: store(), env: {} }) });
  const slot = (mailboxId: string, field: CredentialSlot['field']): CredentialSlot => ({ mailboxId, field });
  const oauthOf = async (id: string): Promise<OAuthConfig> => (await registry.get(id))!.config.oauth!;
  const storedToken = async (id: string): Promise<string> => {
    const ref = (await oauthOf(id)).refreshToken as { sealed: string };
    return operator.open(ref.sealed, slot(id, 'refreshToken'));
  };

  async function register(id: string): Promise<void> {
    const oauth = {
      grant: 'refresh_token',
      tokenEndpoint: endpoint.url,
      clientId: 'gmail-client',
      clientSecret: { sealed: await operator.seal(CLIENT_SECRET, slot(id, 'clientSecret')) },
      refreshToken: { sealed: await operator.seal(REFRESH_TOKEN, slot(id, 'refreshToken')) },
    };
    await registry.add(parseMailbox({ id, host: 'pop.gmail.com', username: 'u', auth: 'XOAUTH2', oauth }));
  }

  it('opens the sealed secrets, writes a rotated refresh token back sealed, and the next container uses it', async () => {
    await register('gmail-sealed');
    const before = ((await oauthOf('gmail-sealed')).refreshToken as { sealed: string }).sealed;
    endpoint.reply = json(200, { access_token: 'access-1', expires_in: 3600, refresh_token: 'rotated-sealed-2' });

    expect(await provider().getAccessToken('gmail-sealed', await oauthOf('gmail-sealed'))).toBe('access-1');

    expect(endpoint.requests[0]!.form).toEqual({ grant_type: 'refresh_token', client_id: 'gmail-client', refresh_token: REFRESH_TOKEN, client_secret: CLIENT_SECRET });
    const after = ((await oauthOf('gmail-sealed')).refreshToken as { sealed: string }).sealed;
    expect(after).not.toBe(before);
    expect(after).toMatch(/^v1:1:/);
    expect(after.includes('rotated-sealed-2')).toBe(false);
    expect(await storedToken('gmail-sealed')).toBe('rotated-sealed-2');
    expect((await registry.get('gmail-sealed'))!.configVersion).toBe(2);

    endpoint.reply = json(200, { access_token: 'access-2', expires_in: 3600 });
    expect(await provider().getAccessToken('gmail-sealed', await oauthOf('gmail-sealed'))).toBe('access-2');
    expect(endpoint.requests[1]!.form.refresh_token).toBe('rotated-sealed-2');
  });

  it("keeps a token the operator sealed meanwhile: the worker's rotation of the old one is not written", async () => {
    await register('gmail-replaced');
    const stale = await oauthOf('gmail-replaced');
    // The operator seals a new refresh token while the worker still holds the old configuration.
    const operatorToken = await operator.seal('operator-token-3', slot('gmail-replaced', 'refreshToken'));
    await registry.update(parseMailbox({ id: 'gmail-replaced', host: 'pop.gmail.com', username: 'u', auth: 'XOAUTH2', oauth: { ...stale, refreshToken: { sealed: operatorToken } } }));
    endpoint.reply = json(200, { access_token: 'access-1', expires_in: 3600, refresh_token: 'rotated-from-old' });

    expect(await provider().getAccessToken('gmail-replaced', stale)).toBe('access-1');

    expect(await storedToken('gmail-replaced')).toBe('operator-token-3');
  });
});
