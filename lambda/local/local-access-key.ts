/**
 * The embedded endpoints of local mode (dynalite, the local KMS) listen on 127.0.0.1, where
 * every user of the machine can reach them; what they hold (the registry, the data key that
 * seals the passwords) is as private as DIR. So each start makes a random access key that
 * only lives in this process's memory, the clients sign with it, and the endpoints answer
 * only requests signed with it (SigV4 names the key in `Authorization: ... Credential=<id>/`).
 * Loopback traffic and process memory are not readable by other unprivileged users.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

const ACCESS_KEY_BYTES = 24;
const CREDENTIAL_ID = /Credential=([^/,\s]+)\//;

export interface LocalAccessKey {
  /** What the in-process clients sign with. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Whether a request was signed with this key. */
  allows(req: IncomingMessage): boolean;
}

export function newLocalAccessKey(): LocalAccessKey {
  const accessKeyId = `MFLOCAL${randomBytes(ACCESS_KEY_BYTES).toString('hex').toUpperCase()}`;
  const expected = Buffer.from(accessKeyId);
  return {
    credentials: { accessKeyId, secretAccessKey: randomBytes(ACCESS_KEY_BYTES).toString('hex') },
    allows: (req) => {
      const given = Buffer.from(CREDENTIAL_ID.exec(String(req.headers.authorization ?? ''))?.[1] ?? '');
      return given.length === expected.length && timingSafeEqual(given, expected);
    },
  };
}

/**
 * Puts the key check in front of every request handler of `server` (an AWS JSON endpoint):
 * anything else gets DynamoDB's and KMS's answer to an unknown access key.
 */
export function requireLocalAccessKey(server: Server, key: LocalAccessKey): void {
  const handlers = server.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (key.allows(req)) {
      for (const handler of handlers) handler.call(server, req, res);
      return;
    }
    req.resume();
    res.writeHead(403, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' }));
  });
}
