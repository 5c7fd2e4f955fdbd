/**
 * The AWS latency model, as the bench and its test use it: S3 and DynamoDB endpoints in a
 * child process (latency-model-server.ts) that answer the SDK's wire protocols after a
 * configurable delay (latency-options.ts), plus what they counted. The child goes away
 * with its parent, however the parent ends.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isChildMessage, type ChildMessage, type ParentMessage, type ParentRequest } from './latency-model-protocol';
import { resolveDelays, type LatencyModelOptions, type ResolvedDelays } from './latency-options';
import type { LatencyTallies } from './latency-tally';

/** Cold start includes tsx compiling the child's TypeScript: ~1 s; 30 s means broken. */
const STARTUP_TIMEOUT_MS = 30_000;
/** A request to the child is answered at once; this long means it is gone or stuck. */
const REQUEST_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 10_000;
const STDERR_TAIL_CHARS = 4_000;

export interface LatencyModel {
  /** http://127.0.0.1:PORT, path-style S3. */
  readonly s3Endpoint: string;
  /** http://127.0.0.1:PORT, DynamoDB's JSON 1.0 protocol. */
  readonly dynamoEndpoint: string;
  /** The delays in force, ms per operation. */
  readonly delays: ResolvedDelays;
  /** What the endpoints counted since the start or the last resetTallies(). */
  tallies(): Promise<LatencyTallies>;
  resetTallies(): Promise<void>;
  /** Drops every bucket, object, upload and table (the tallies stay). */
  clear(): Promise<void>;
  /** Stops the child; idempotent. */
  stop(): Promise<void>;
}

export async function startLatencyModel(options: LatencyModelOptions = {}): Promise<LatencyModel> {
  const delays = resolveDelays(options);
  const child = fork(fileURLToPath(new URL('./latency-model-server.ts', import.meta.url)), [JSON.stringify(options)], {
    execArgv: ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href],
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_CHARS);
  });
  let ready: Extract<ChildMessage, { type: 'ready' }>;
  try {
    ready = await waitUntilReady(child, () => stderr.trim());
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  // A forgotten stop() must not keep the bench alive: the child goes when the parent does.
  child.unref();
  child.channel?.unref();
  let nextId = 0;
  const request = (type: ParentRequest['type']): Promise<Extract<ChildMessage, { type: 'answer' }>> => {
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`latency model: no answer to ${type} within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
      const onMessage = (m: unknown): void => {
        if (isChildMessage(m) && m.type === 'answer' && m.id === id) done(undefined, m);
      };
      const onExit = (): void => done(new Error(`latency model: the child exited${stderr ? `\n${stderr.trim()}` : ''}`));
      function done(err?: Error, answer?: Extract<ChildMessage, { type: 'answer' }>): void {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(answer!);
      }
      child.on('message', onMessage);
      child.once('exit', onExit);
      child.send({ type, id } satisfies ParentMessage);
    });
  };
  let stopped: Promise<void> | undefined;
  return {
    s3Endpoint: ready.s3Endpoint,
    dynamoEndpoint: ready.dynamoEndpoint,
    delays,
    tallies: async () => (await request('tallies')).tallies!,
    resetTallies: async () => void (await request('reset-tallies')),
    clear: async () => void (await request('clear')),
    stop: () => (stopped ??= stopChild(child)),
  };
}

function waitUntilReady(child: ChildProcess, output: () => string): Promise<Extract<ChildMessage, { type: 'ready' }>> {
  return new Promise((resolve, reject) => {
    const fail = (reason: string): void => {
      cleanup();
      reject(new Error(`latency model failed to start: ${reason}${output() ? `\n${output()}` : ''}`));
    };
    const onMessage = (m: unknown): void => {
      if (!isChildMessage(m)) return;
      if (m.type === 'failed') return fail(m.message);
      if (m.type !== 'ready') return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => fail(`the child exited early (code ${code}, signal ${signal})`);
    const onError = (err: Error): void => fail(err.message);
    const timer = setTimeout(() => fail(`no answer within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    function cleanup(): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      child.off('error', onError);
    }
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.on('error', onError);
  });
}

/** Graceful first, SIGKILL if the child does not go. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.ref();
  const exited = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (child.connected) child.send({ type: 'stop' } satisfies ParentMessage);
  else child.kill('SIGTERM');
  if (!(await exited)) child.kill('SIGKILL');
}
