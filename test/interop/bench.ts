/** A worker bench (test/sync/harness.ts) pointed at an interop server. */
import { expect } from 'vitest';
import type { AuthMechanismName } from '../../lambda/pop3';
import type { RunSummary } from '../../lambda/sync/run-summary';
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

export async function benchFor(aws: Aws, server: InteropServer, setup: BenchSetup): Promise<{ bench: WorkerBench; trace: TraceRecorder }> {
  const port = setup.mode === 'implicit' ? server.ports.implicitTls : server.ports.plain;
  if (port === undefined) throw new Error(`${server.name} has no port for ${setup.mode}`);
  const trace = new TraceRecorder();
  const bench = await WorkerBench.create({
    ...aws,
    pop3: {
      host: server.host,
      port,
      tls: setup.mode,
      tlsOptions: server.ca ? { ca: server.ca } : {},
      username: setup.username ?? server.user.username,
      password: server.user.password,
      auth: setup.mechanism,
      allowPlaintextAuth: setup.mode === 'none',
      trace: trace.sink,
    },
    mailbox: { auth: setup.mechanism, tls: setup.mode, port, pipelining: setup.pipelining, retention: setup.retention },
  });
  return { bench, trace };
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
