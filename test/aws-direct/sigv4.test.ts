/**
 * The direct requests' SigV4 (lambda/aws-direct/sigv4.ts) against the SDK's own signer on
 * random requests: the same Authorization for any method, path, header values (blanks to
 * trim and collapse included), secret, session token, region, service and second, signing
 * keys cached across days and secrets.
 */
import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeS3Path, signedRequestHead, signRequest } from '../../lambda/aws-direct/sigv4';
import { Sha256 } from '../fixtures/sdk-signature';

const token = fc.stringMatching(/^[A-Za-z0-9/+=]{1,40}$/);
const headerValue = fc.stringMatching(/^[ -~]{0,40}$/);
const request = fc.record({
  method: fc.constantFrom('PUT', 'POST', 'GET'),
  segments: fc.array(fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }), { minLength: 1, maxLength: 3 }),
  meta: fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), headerValue, { maxKeys: 4 }),
  body: fc.uint8Array({ maxLength: 64 }),
  secret: token,
  accessKeyId: fc.stringMatching(/^[A-Z0-9]{4,20}$/),
  sessionToken: fc.option(token, { nil: undefined }),
  region: fc.constantFrom('us-east-1', 'eu-west-1', 'ap-southeast-2'),
  service: fc.constantFrom('s3', 'dynamodb'),
  // Any second of 2020..2030: signing keys change per day.
  at: fc.integer({ min: 1_577_836_800, max: 1_893_456_000 }),
});

describe('signRequest', () => {
  it('makes the Authorization the SDK makes, on 300 random requests', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const body = Buffer.from(r.body);
        const path = `/${encodeS3Path(r.segments.join('/'))}`;
        const headers: Record<string, string> = { host: 'example.amazonaws.com', 'content-length': String(body.length) };
        for (const [name, value] of Object.entries(r.meta)) headers[`x-amz-meta-${name}`] = value;
        const sha = createHash('sha256').update(body).digest('hex');
        const credentials = { accessKeyId: r.accessKeyId, secretAccessKey: r.secret, ...(r.sessionToken ? { sessionToken: r.sessionToken } : {}) };
        const now = new Date(r.at * 1000);
        const ours = signRequest({ method: r.method, path, headers, payloadSha256Hex: sha }, { region: r.region, service: r.service, credentials, now });
        const sdk = new SignatureV4({ service: r.service, region: r.region, credentials, sha256: Sha256, uriEscapePath: false });
        const signed = await sdk.sign({ method: r.method, protocol: 'https:', hostname: headers.host!, path, query: {}, headers: { ...headers, 'x-amz-content-sha256': sha }, body }, { signingDate: now });
        expect(ours.authorization).toBe(signed.headers.authorization);
      }),
      { numRuns: 300, seed: 20261207 },
    );
  });

  it('encodes object keys as RFC 3986 wants, the slashes kept: the same with and without the shortcut for plain keys', () => {
    const oracle = (path: string): string => path.split('/').map((segment) => encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');
    const plain = fc.stringMatching(/^[A-Za-z0-9\-._~/]{0,30}$/);
    fc.assert(fc.property(fc.oneof(plain, fc.string({ maxLength: 30, unit: 'grapheme' }), fc.string({ maxLength: 30, unit: 'binary' })), (path) => {
      expect(encodeS3Path(path)).toBe(oracle(path));
    }), { numRuns: 2_000, seed: 20261207 });
    expect(encodeS3Path("messages/acme/a b+c!'()*~.eml")).toBe('messages/acme/a%20b%2Bc%21%27%28%29%2A~.eml');
  });
});

describe('signedRequestHead', () => {
  const scope = { region: 'eu-west-1', service: 's3', credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'token' }, now: new Date(Date.UTC(2026, 11, 7, 8, 0, 1)) };
  const sha = createHash('sha256').update('body').digest('hex');

  it('is the request line and every header of signRequest, each once, Authorization included', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/), headerValue, { maxKeys: 6 }), (meta) => {
        const headers: Record<string, string> = { host: 'bucket.s3.eu-west-1.amazonaws.com', 'content-length': '4' };
        for (const [name, value] of Object.entries(meta)) headers[`x-amz-meta-${name}`] = value;
        const request = { method: 'PUT', path: '/m/1.eml', headers, payloadSha256Hex: sha };
        const [line, ...fields] = signedRequestHead(request, scope).split('\r\n');
        expect(line).toBe('PUT /m/1.eml HTTP/1.1');
        const sent = fields.map((f) => [f.slice(0, f.indexOf(': ')), f.slice(f.indexOf(': ') + 2)]);
        expect(Object.fromEntries(sent)).toEqual(signRequest(request, scope));
        expect(sent).toHaveLength(Object.keys(signRequest(request, scope)).length);
      }),
      { numRuns: 200, seed: 20261207 },
    );
  });

  it('refuses a line break in a name or a value: it would split the request', () => {
    const cases: Record<string, string>[] = [{ host: 'h', 'x-amz-meta-a': 'one\r\nx-injected: 1' }, { host: 'h', 'x-amz-meta-b\n': 'v' }, { host: 'h\r' }];
    for (const headers of cases) {
      expect(() => signedRequestHead({ method: 'PUT', path: '/k', headers, payloadSha256Hex: sha }, scope)).toThrow(/line break/);
    }
    // The key id is in the authorization field: it must not split the request either.
    const badKey = { ...scope, credentials: { accessKeyId: 'AKID\r\nx-injected: 1', secretAccessKey: 'secret' } };
    expect(() => signedRequestHead({ method: 'PUT', path: '/k', headers: { host: 'h' }, payloadSha256Hex: sha }, badKey)).toThrow(/line break/);
  });

  it('sends each of the signature\'s own fields once, over a given one of the same name', () => {
    const headers = { host: 'h', 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'x-amz-date': '19990101T000000Z', authorization: 'forged' };
    const lines = signedRequestHead({ method: 'PUT', path: '/k', headers, payloadSha256Hex: sha }, scope).split('\r\n');
    for (const name of ['x-amz-content-sha256', 'x-amz-date', 'authorization']) expect(lines.filter((l) => l.startsWith(`${name}: `))).toHaveLength(1);
    expect(lines).toContain(`x-amz-content-sha256: ${sha}`);
    expect(lines.find((l) => l.startsWith('authorization: '))).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,');
  });
});
