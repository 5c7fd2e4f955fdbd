/**
 * A worker bench (test/sync/harness.ts) pointed at an interop server, configured as a user
 * would: a mailbox config through the config parser, its credentials resolved from their
 * references (the password and a client key from environment variables, a client
 * certificate as PEM text) by the worker's own session opener.
 */
import { expect } from 'vitest';
import type { MailboxInput } from '../../lambda/config/mailbox-config';
import { parseMailbox } from '../../lambda/config/validate-config';
import { OAuthTokenProvider } from '../../lambda/credentials/oauth-token-provider';
import { SecretResolver } from '../../lambda/credentials/secret-resolver';
import type { AuthMechanismName } from '../../lambda/pop3';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { sessionOptions } from '../../lambda/sync/session-opener';
import type { LocalDynamo, LocalS3 } from '../fixtures/aws-local';
import { SimulatedCrash, WorkerBench } from '../sync/harness';
import type { Retention } from './combinations';
import type { InteropServer, SecurityMode } from './servers/types';
import { TraceRecorder } from './trace';

export interface Aws {
  readonly s3: LocalS3;
  readonly dynamo: LocalDynamo;
}

export interface BenchSetup {
  readonly mode: SecurityMode;
  readonly mechanism: AuthMechanismName | 'auto';
  readonly pipelining: boolean;
  readonly retention: Retention;
  /** Default: the server's own login. */
  readonly username?: string;
}

/** The variables the config's SecretRefs name: the resolver's own environment, not process.env. */
const PASSWORD_VARIABLE = 'INTEROP_PASSWORD';
const CLIENT_KEY_VARIABLE = 'INTEROP_CLIENT_KEY';

export async function benchFor(aws: Aws, server: InteropServer, setup: BenchSetup): Promise<{ bench: WorkerBench; trace: TraceRecorder }> {
  const port = setup.mode === 'implicit' ? server.ports.implicitTls : server.ports.plain;
  if (port === undefined) throw new Error(`${server.name} has no port for ${setup.mode}`);
  const trace = new TraceRecorder();
  const mailbox = parseMailbox({
    id: 'box-1',
    host: server.host,
    port,
    tls: setup.mode,
    ...(server.ca ? { tlsCa: server.ca.toString('utf8') } : {}),
    username: setup.username ?? server.user.username,
    auth: setup.mechanism,
    ...credentialsFor(server, setup.mechanism),
    allowPlaintextAuth: setup.mode === 'none',
    pipelining: setup.pipelining,
    retention: setup.retention,
  } satisfies MailboxInput);
  const env = { [PASSWORD_VARIABLE]: server.user.password, ...(server.clientCertificate ? { [CLIENT_KEY_VARIABLE]: server.clientCertificate.key } : {}) };
  const secrets = new SecretResolver({ env });
  const pop3 = await sessionOptions(mailbox, { secrets, oauth: new OAuthTokenProvider({ secrets }), engine: { trace: trace.sink } });
  const bench = await WorkerBench.create({ ...aws, pop3, mailbox });
  return { bench, trace };
}

/** EXTERNAL: the client certificate alone (no password), as its user would configure it. */
function credentialsFor(server: InteropServer, mechanism: BenchSetup['mechanism']): Pick<MailboxInput, 'password' | 'clientCertificate'> {
  if (mechanism !== 'EXTERNAL') return { password: { env: PASSWORD_VARIABLE } };
  if (!server.clientCertificate) throw new Error(`${server.name} has no client certificate for EXTERNAL`);
  return { clientCertificate: { certificate: server.clientCertificate.cert, key: { env: CLIENT_KEY_VARIABLE } } };
}

export async function run(bench: WorkerBench, options: Parameters<WorkerBench['run']>[0] = {}): Promise<RunSummary> {
  const r = await bench.run(options);
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

/** Asserts on a run summary; on failure the protocol trace is in the message. */
export function expectSummary(summary: RunSummary, expected: Partial<RunSummary>, trace: TraceRecorder): void {
  expect(summary, `summary ${JSON.stringify(summary)}\ntrace:\n${trace}`).toMatchObject(expected);
}
