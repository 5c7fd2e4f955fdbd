/**
 * A loopback HTTP server speaking the AWS JSON 1.1 protocol: `X-Amz-Target:
 * <Service>.<Operation>`, JSON request and response bodies, errors as `{"__type",
 * "message"}` with the `x-amzn-errortype` header. Real SDK clients point at it. It is the
 * base of the local endpoints for services without a maintained local emulator (KMS for
 * the embedded mode and the tests, Secrets Manager for the tests). Signatures are not
 * checked: it binds to 127.0.0.1 only.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { requireLocalAccessKey, type LocalAccessKey } from './local-access-key';
import { LOOPBACK_HOST } from './loopback';

const CONTENT_TYPE = 'application/x-amz-json-1.1';
/** Requests of these services are a few KiB; a larger body is refused before it is parsed. */
const MAX_REQUEST_BYTES = 1024 * 1024;

/** An error answer, as AWS sends it. */
export interface AwsErrorReply {
  readonly status: number;
  /** The AWS error code, e.g. `AccessDeniedException`. */
  readonly type: string;
  readonly message?: string;
}

/** Thrown by an operation handler: the endpoint answers with it. */
export class AwsServiceError extends Error {
  override readonly name = 'AwsServiceError';
  readonly reply: AwsErrorReply;

  constructor(status: number, type: string, message: string) {
    super(message);
    this.reply = { status, type, message };
  }
}

/** Answers one operation with the response body, or throws AwsServiceError. */
export type AwsJsonHandler = (operation: string, body: Record<string, unknown>) => unknown;

export interface AwsJsonEndpointOptions {
  /** The part of X-Amz-Target before the dot, e.g. `TrentService` (KMS), `secretsmanager`. */
  readonly targetPrefix: string;
  readonly handle: AwsJsonHandler;
  /** Answer only requests signed with this key (local mode: see local-access-key.ts). @default any request */
  readonly accessKey?: LocalAccessKey;
}

export interface AwsJsonEndpoint {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  /** Requests received for one operation, or for all. Failed requests count too. */
  calls(operation?: string): number;
  resetCalls(): void;
  /** The next request for `operation` fails with this error (queued: call twice for two). */
  failNext(operation: string, error: AwsErrorReply): void;
  close(): Promise<void>;
}

export async function startAwsJsonEndpoint(options: AwsJsonEndpointOptions): Promise<AwsJsonEndpoint> {
  const counts = new Map<string, number>();
  const faults = new Map<string, AwsErrorReply[]>();
  const prefix = `${options.targetPrefix}.`;

  const server = createServer((req, res) => {
    void answer(req, res).catch((err: unknown) => sendError(res, { status: 500, type: 'InternalFailure', message: String(err) }));
  });

  async function answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = String(req.headers['x-amz-target'] ?? '');
    const operation = target.startsWith(prefix) ? target.slice(prefix.length) : '';
    counts.set(operation, (counts.get(operation) ?? 0) + 1);
    const body = await readJson(req);
    const fault = faults.get(operation)?.shift();
    if (fault) return sendError(res, fault);
    if (body === undefined) return sendError(res, { status: 400, type: 'SerializationException', message: 'body is not a JSON object' });
    try {
      send(res, 200, await options.handle(operation, body));
    } catch (err) {
      if (err instanceof AwsServiceError) return sendError(res, err.reply);
      throw err;
    }
  }

  if (options.accessKey) requireLocalAccessKey(server, options.accessKey);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, LOOPBACK_HOST, () => resolve());
  });
  // A forgotten close() must not keep the CLI alive: only requests in flight hold the loop.
  server.unref();
  return {
    endpoint: `http://${LOOPBACK_HOST}:${(server.address() as AddressInfo).port}`,
    calls: (operation) => (operation === undefined ? [...counts.values()].reduce((a, b) => a + b, 0) : (counts.get(operation) ?? 0)),
    resetCalls: () => counts.clear(),
    failNext: (operation, error) => {
      faults.set(operation, [...(faults.get(operation) ?? []), error]);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The error AWS JSON services send for a target they do not know. */
export function unknownOperation(operation: string): AwsServiceError {
  return new AwsServiceError(400, 'UnknownOperationException', `unknown operation ${operation || '(no X-Amz-Target)'}`);
}

function sendError(res: ServerResponse, error: AwsErrorReply): void {
  send(res, error.status, { __type: error.type, message: error.message ?? error.type }, { 'x-amzn-errortype': error.type });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const payload = JSON.stringify(body ?? {});
  res.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(payload),
    'x-amzn-requestid': randomUUID(),
    ...headers,
  });
  res.end(payload);
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
