/** Runs `node bin/mailfetch.js ...` as a child process, as an operator would, and collects its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '../..');
export const BIN = join(REPO, 'bin', 'mailfetch.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Asynchronous, so servers in the test process (the fake POP3 server) keep answering.
 * LOG_LEVEL is cleared: the default (warn) applies unless `env` sets it. `input` is
 * written to the command's standard input (a pipe, as in `cmd < file`); without it,
 * standard input is closed.
 */
export function runMailfetch(args: readonly string[], cwd: string, env: Record<string, string | undefined> = {}, input?: string): Promise<CliResult> {
  return startMailfetch(args, cwd, env, input).result;
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** Everything written to stdout so far. */
  stdout(): string;
  readonly result: Promise<CliResult>;
}

/** As runMailfetch, with the child process at hand (to signal it while it runs). */
export function startMailfetch(args: readonly string[], cwd: string, env: Record<string, string | undefined> = {}, input?: string): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd,
    env: { ...process.env, LOG_LEVEL: '', ...env },
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const result = new Promise<CliResult>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
  return { child, stdout: () => stdout, result };
}

export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
