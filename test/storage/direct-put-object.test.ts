/**
 * The sink's direct PutObject (lambda/storage/direct-put-object.ts) against a real s3rver,
 * which checks SigV4 signatures: what it stores, the signature against the SDK's own signer,
 * the endpoints the client's rules give, and what happens when S3 (here a proxy in front
 * of s3rver) refuses or fails the direct request but not the SDK's.
 */
import { createHash } from 'node:crypto';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DIRECT_PUT_BACKOFF_BASE_MS,
  DIRECT_PUT_BACKOFF_MAX_MS,
  DIRECT_PUT_MAX_FAILURES_IN_A_ROW,
  DirectPutObject,
  directPutObjectFor,
  type DirectPutRequest,
} from '../../lambda/storage/direct-put-object';
import { sdkS3Target } from '../../lambda/storage/sdk-s3-target';
import { bucketUrl, directPutObjectFromEnvironment } from '../../lambda/storage/environment-s3-target';
import { S3MessageSink } from '../../lambda/storage/s3-message-sink';
import { encodeS3Path, signRequest } from '../../lambda/aws-direct/sigv4';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../lambda/local/local-credentials';
import { countS3Requests, createLocalS3Client, startS3rver, type LocalS3 } from '../fixtures/aws-local';
import { Sha256, sdkSignatureMatches } from '../fixtures/sdk-signature';

const BUCKET = 'direct-put';
const MESSAGE = Buffer.from('From: a@example.org\r\nSubject: direct\r\n\r\nbody\r\n.\r\n\x00\xff bytes kept\r\n', 'latin1');

function putRequest(key: string, body = MESSAGE): DirectPutRequest {
  const sha = createHash('sha256').update(body).digest();
  return { bucket: BUCKET, key, body, contentType: 'message/rfc822', metadata: { mailbox: 'acme', subject: 'two  spaces ' }, sha256Hex: sha.toString('hex'), checksumSha256Base64: sha.toString('base64') };
}

async function objectBytes(s3: S3Client, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

type Refusal = { status: number; code: string } | undefined;

/**
 * A proxy in front of s3rver (which does not check SigV4 signatures): `refuse` may answer a
 * request itself; with `secret`, every direct request's signature is recomputed from what
 * arrived on the wire with the SDK's signer, and a mismatch is S3's 403.
 */
async function startProxy(target: string, options: { refuse?: (direct: boolean) => Refusal; secret?: string }): Promise<{ endpoint: string; direct: number; verified: number; server: Server }> {
  const upstream = new URL(target);
  const state = { endpoint: '', direct: 0, verified: 0, server: undefined as unknown as Server };
  state.server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      // Only the SDK sends an invocation id.
      const isDirect = req.headers['amz-sdk-invocation-id'] === undefined;
      if (isDirect) state.direct++;
      let refusal = options.refuse?.(isDirect);
      if (!refusal && isDirect && options.secret !== undefined) {
        if (await sdkSignatureMatches(req, body, options.secret, { uriEscapePath: false })) state.verified++;
        else refusal = { status: 403, code: 'SignatureDoesNotMatch' };
      }
      if (refusal) {
        res.writeHead(refusal.status, { 'content-type': 'application/xml' });
        res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${refusal.code}</Code><Message>refused by the test</Message></Error>`);
        return;
      }
      const forward = httpRequest({ hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      forward.end(body);
    })();
  });
  await new Promise<void>((resolve) => state.server.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

function storeInput(identity: string, body: Buffer = MESSAGE) {
  return { mailboxId: 'acme', identity, uid: identity, body: Readable.from([body]), sizeHint: body.length, firstSeenAt: '2024-05-01T10:00:00.000Z' };
}

describe('direct PutObject', () => {
  let local: LocalS3;
  const servers: Server[] = [];

  beforeAll(async () => {
    local = await startS3rver();
    await local.createBucket(BUCKET);
  });

  afterAll(async () => {
    for (const server of servers) server.close();
    await local?.stop();
  });

  it('stores the bytes under the key with its metadata, with a signature S3 would accept', async () => {
    const proxy = await startProxy(local.endpoint, { secret: 'S3RVER' });
    servers.push(proxy.server);
    const direct = new DirectPutObject(sdkS3Target(createLocalS3Client(proxy.endpoint)));

    expect(await direct.put(putRequest('messages/acme/a b+c~1(2)*.eml'))).toEqual({ kind: 'stored' });

    expect(proxy.verified).toBe(1);
    expect((await objectBytes(local.s3, 'messages/acme/a b+c~1(2)*.eml')).equals(MESSAGE)).toBe(true);
    const head = await local.s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'messages/acme/a b+c~1(2)*.eml' }));
    expect(head.ContentType).toBe('message/rfc822');
    expect(head.Metadata).toMatchObject({ mailbox: 'acme', subject: 'two  spaces' });
  });

  it('signed with the wrong secret: refused (the check above can fail)', async () => {
    const proxy = await startProxy(local.endpoint, { secret: 'S3RVER' });
    servers.push(proxy.server);
    const client = new S3Client({ endpoint: proxy.endpoint, region: LOCAL_REGION, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'not-the-secret' } });
    const outcome = await new DirectPutObject(sdkS3Target(client)).put(putRequest('messages/acme/wrong-secret.eml'));
    expect(outcome).toEqual({ kind: 'refused', reason: 'HTTP 403 SignatureDoesNotMatch' });
    expect(proxy.verified).toBe(0);
    client.destroy();
  });

  it('signs as the SDK signs: the same Authorization for the same request, session token and blanks in values included', async () => {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken: 'token/with+chars=' };
    const now = new Date('2026-12-06T10:11:12.000Z');
    const body = Buffer.from('hello');
    const sha = createHash('sha256').update(body).digest('hex');
    const headers = { host: 'bucket.s3.eu-west-1.amazonaws.com', 'content-length': '5', 'content-type': 'message/rfc822', 'x-amz-meta-subject': '  a   b ', 'x-amz-checksum-sha256': 'abc=' };
    const path = encodeS3Path('/messages/acme/x (1)*!.eml');
    const ours = signRequest({ method: 'PUT', path, headers, payloadSha256Hex: sha }, { region: 'eu-west-1', service: 's3', credentials, now });

    const sdk = new SignatureV4({ service: 's3', region: 'eu-west-1', credentials, sha256: Sha256, uriEscapePath: false, applyChecksum: false });
    const signed = await sdk.sign(
      { method: 'PUT', protocol: 'https:', hostname: headers.host, path, query: {}, headers: { ...headers, 'x-amz-content-sha256': sha }, body },
      { signingDate: now },
    );
    expect(path).toBe('/messages/acme/x%20%281%29%2A%21.eml');
    expect(ours.authorization).toBe(signed.headers.authorization);
    expect(ours['x-amz-security-token']).toBe(credentials.sessionToken);
  });

  it('sends where the client’s endpoint rules say: virtual-hosted on AWS, path-style on a custom endpoint, not at all for S3 Express', async () => {
    const aws = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
    const direct = new DirectPutObject(sdkS3Target(aws));
    expect(await direct.available('my-bucket')).toBe(true);
    expect(await direct.available('mybucket--usw2-az1--x-s3')).toBe(false);
    expect(await new DirectPutObject(sdkS3Target(createLocalS3Client(local.endpoint))).available(BUCKET)).toBe(true);
    aws.destroy();
  });

  it('a 503 on the direct request: the SDK stores the message; the direct path rests, then is used again', async () => {
    let refusals = 1;
    const proxy = await startProxy(local.endpoint, { refuse: (isDirect) => (isDirect && refusals-- > 0 ? { status: 503, code: 'SlowDown' } : undefined) });
    servers.push(proxy.server);
    const client = createLocalS3Client(proxy.endpoint);
    const counter = countS3Requests(client);
    const sink = new S3MessageSink({ client, bucket: BUCKET, directPutObject: true });

    // The clock stands still until the rest is over (a loaded machine must not end it early).
    const now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    let first, resting, rested;
    try {
      first = await sink.store(storeInput('after-503'));
      resting = await sink.store(storeInput('resting'));
      vi.setSystemTime(now + DIRECT_PUT_BACKOFF_BASE_MS + 1);
      rested = await sink.store(storeInput('rested'));
    } finally {
      vi.useRealTimers();
    }

    for (const stored of [first, resting, rested]) expect((await objectBytes(local.s3, stored.key)).equals(MESSAGE)).toBe(true);
    // direct (503) and SDK; SDK (resting); direct.
    expect(counter.count('PutObject')).toBe(4);
    expect(proxy.direct).toBe(2);
    expect(directPutObjectFor(client).disabledReason).toBeUndefined();
  });

  it('turns itself off after failing DIRECT_PUT_MAX_FAILURES_IN_A_ROW times in a row, with one warning; every message is stored', async () => {
    const proxy = await startProxy(local.endpoint, { refuse: (isDirect) => (isDirect ? { status: 500, code: 'InternalError' } : undefined) });
    servers.push(proxy.server);
    const client = createLocalS3Client(proxy.endpoint);
    const warnings: unknown[] = [];
    const sink = new S3MessageSink({ client, bucket: BUCKET, directPutObject: true, onWarning: (event, fields) => warnings.push({ event, fields }) });
    let now = Date.now();
    vi.useFakeTimers({ toFake: ['Date'], now });
    try {
      for (let i = 0; i < DIRECT_PUT_MAX_FAILURES_IN_A_ROW + 2; i++) {
        const stored = await sink.store(storeInput(`failing-${i}`));
        expect((await objectBytes(local.s3, stored.key)).equals(MESSAGE)).toBe(true);
        now += DIRECT_PUT_BACKOFF_MAX_MS + 1;
        vi.setSystemTime(now);
      }
    } finally {
      vi.useRealTimers();
    }
    expect(proxy.direct).toBe(DIRECT_PUT_MAX_FAILURES_IN_A_ROW);
    expect(warnings).toEqual([{ event: 'direct-put-disabled', fields: { bucket: BUCKET, reason: `${DIRECT_PUT_MAX_FAILURES_IN_A_ROW} failures in a row, the last: HTTP 500 InternalError` } }]);
  });

  it('a refusal the SDK gets past turns the direct path off for the client, with one warning', async () => {
    const proxy = await startProxy(local.endpoint, { refuse: (isDirect) => (isDirect ? { status: 400, code: 'InvalidRequest' } : undefined) });
    servers.push(proxy.server);
    const client = createLocalS3Client(proxy.endpoint);
    const warnings: unknown[] = [];
    const sink = (): S3MessageSink => new S3MessageSink({ client, bucket: BUCKET, directPutObject: true, onWarning: (event, fields) => warnings.push({ event, fields }) });

    await sink().store(storeInput('refused-1'));
    await sink().store(storeInput('refused-2'));

    expect((await objectBytes(local.s3, sink().objectKey('acme', 'refused-2'))).equals(MESSAGE)).toBe(true);
    expect(proxy.direct).toBe(1);
    expect(warnings).toEqual([{ event: 'direct-put-disabled', fields: { bucket: BUCKET, reason: "refused (HTTP 400 InvalidRequest) where the SDK's request was taken" } }]);
  });

  it('a refusal the SDK gets too is the store’s error, and the direct path stays on', async () => {
    const proxy = await startProxy(local.endpoint, { refuse: () => ({ status: 403, code: 'AccessDenied' }) });
    servers.push(proxy.server);
    const client = createLocalS3Client(proxy.endpoint);
    const sink = new S3MessageSink({ client, bucket: BUCKET, directPutObject: true });

    await expect(sink.store(storeInput('denied'))).rejects.toMatchObject({ name: 'StorageError', code: 'ACCESS_DENIED' });
    expect(proxy.direct).toBe(1);
    expect(directPutObjectFor(client).disabledReason).toBeUndefined();
  });

  it('by default (directPutObject: false) the sink sends through the SDK only', async () => {
    const client = createLocalS3Client(local.endpoint);
    let direct = 0;
    directPutObjectFor(client).intercept((request, send) => {
      direct++;
      return send();
    });
    const counter = countS3Requests(client);
    await new S3MessageSink({ client, bucket: BUCKET }).store(storeInput('sdk-only'));
    expect({ direct, puts: counter.count('PutObject') }).toEqual({ direct: 0, puts: 1 });
  });

  it('the Lambda worker\'s environment: stored directly, signed with the role\'s credentials, the SDK client never made', async () => {
    const proxy = await startProxy(local.endpoint, { secret: LOCAL_CREDENTIALS.secretAccessKey });
    servers.push(proxy.server);
    const env = { AWS_REGION: LOCAL_REGION, AWS_ENDPOINT_URL_S3: proxy.endpoint, AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey };
    const direct = directPutObjectFromEnvironment(env);
    expect(direct).toBeDefined();
    let made = 0;
    const client = (): Promise<S3Client> => {
      made++;
      return Promise.resolve(createLocalS3Client(proxy.endpoint));
    };
    const sink = new S3MessageSink({ client, bucket: BUCKET, directPutObject: direct! });
    for (const identity of ['env-1', 'env-2']) await sink.store(storeInput(identity));
    for (const identity of ['env-1', 'env-2']) expect((await objectBytes(local.s3, sink.objectKey('acme', identity))).equals(MESSAGE)).toBe(true);
    expect({ direct: proxy.direct, verified: proxy.verified, made }).toEqual({ direct: 2, verified: 2, made: 0 });

    // What the direct path does not take (a refusal here) makes the client, which stores it.
    const refusing = await startProxy(local.endpoint, { refuse: (isDirect) => (isDirect ? { status: 503, code: 'SlowDown' } : undefined) });
    servers.push(refusing.server);
    const fallback = new S3MessageSink({
      client: () => {
        made++;
        return Promise.resolve(createLocalS3Client(refusing.endpoint));
      },
      bucket: BUCKET,
      directPutObject: directPutObjectFromEnvironment({ ...env, AWS_ENDPOINT_URL_S3: refusing.endpoint })!,
    });
    await fallback.store(storeInput('env-fallback'));
    expect((await objectBytes(local.s3, fallback.objectKey('acme', 'env-fallback'))).equals(MESSAGE)).toBe(true);
    expect({ direct: refusing.direct, made }).toEqual({ direct: 1, made: 1 });
  });

  it('a sink whose client is made later needs a DirectPutObject of its own for the direct path', () => {
    expect(() => new S3MessageSink({ client: () => Promise.resolve(local.s3), bucket: BUCKET, directPutObject: true })).toThrow(/directPutObject: true takes its endpoint from the client/);
  });
});

describe('bucketUrl (the environment\'s S3 addressing)', () => {
  const credentials = (): Promise<{ accessKeyId: string; secretAccessKey: string }> => Promise.resolve(LOCAL_CREDENTIALS);
  const at = (endpoint: string | undefined, region = 'eu-west-1') => ({ endpoint: endpoint === undefined ? undefined : new URL(endpoint), region, credentials });

  it('virtual-hosted on the public endpoint and on a named host; path style when forced or on an IP address', () => {
    expect(bucketUrl('mail-archive-1', at(undefined), false)?.href).toBe('https://mail-archive-1.s3.eu-west-1.amazonaws.com/');
    expect(bucketUrl('mail', at(undefined), true)?.href).toBe('https://s3.eu-west-1.amazonaws.com/mail/');
    expect(bucketUrl('mail', at('https://s3.example.net:9000'), false)?.href).toBe('https://mail.s3.example.net:9000/');
    expect(bucketUrl('mail', at('http://127.0.0.1:4566'), false)?.href).toBe('http://127.0.0.1:4566/mail/');
    expect(bucketUrl('mail', at('http://[::1]:4566'), false)?.href).toBe('http://[::1]:4566/mail/');
  });

  it('leaves to the SDK what its endpoint rules know and this does not: dots, capitals, ARNs, directory buckets', () => {
    for (const bucket of ['mail.example.com', 'Mail', 'ab', 'arn:aws:s3:eu-west-1:123456789012:accesspoint/mail', 'mail--euw1-az1--x-s3', '-mail', 'mail-', 'a'.repeat(64)]) {
      expect(bucketUrl(bucket, at(undefined), false), bucket).toBeUndefined();
    }
  });
});
