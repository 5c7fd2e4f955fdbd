/** Shared helpers of the benchmarks: settings, statistics, processes, scratch dirs. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** BENCH_QUICK=1: small corpus, one repetition: a smoke run, its figures mean nothing. */
export const QUICK = process.env.BENCH_QUICK === '1';

export const MB = 1_000_000;

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function min(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : Math.min(...xs);
}

export function max(xs: readonly number[]): number {
  return xs.length === 0 ? Number.NaN : Math.max(...xs);
}

export function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** User + system CPU of the process and every descendant it waited for (GNU time), when measured. */
  cpuMs?: number;
  /** Peak RSS of the largest of those processes, KiB (GNU time), when measured. */
  maxRssKb?: number;
}

const GNU_TIME = '/usr/bin/time';
let timeChecked: boolean | undefined;

/** Whether GNU time is there to measure CPU time (package `time`). */
export async function canMeasureCpu(): Promise<boolean> {
  timeChecked ??= await access(GNU_TIME).then(
    () => true,
    () => false,
  );
  return timeChecked;
}

let measureSeq = 0;

/**
 * exec under GNU time: also reports the CPU time of the process tree (user + sys). CPU
 * time is what a shared, noisy machine disturbs least.
 */
export async function execMeasured(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number; scratch: string },
): Promise<ExecResult> {
  if (!(await canMeasureCpu())) return exec(cmd, args, options);
  const out = join(options.scratch, `time-${process.pid}-${++measureSeq}.txt`);
  const r = await exec(GNU_TIME, ['-o', out, '-f', '%U %S %M', cmd, ...args], options);
  try {
    const line = (await readFile(out, 'utf8')).trim().split('\n').pop() ?? '';
    const [user, sys, rss] = line.split(' ').map(Number);
    if (user !== undefined && sys !== undefined && Number.isFinite(user) && Number.isFinite(sys)) {
      r.cpuMs = (user + sys) * 1000;
      r.maxRssKb = rss;
    }
  } catch {
    // the tool was killed before time could write: no CPU figure
  } finally {
    await rm(out, { force: true });
  }
  return r;
}

/** Runs a program to completion, capturing its output, timed from spawn to exit. */
export function exec(
  cmd: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const started = nowMs();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env, cwd: options.cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-20_000)));
    const timer = options.timeoutMs
      ? setTimeout(() => {
          stderr += `\n[bench: killed after ${options.timeoutMs} ms]`;
          child.kill('SIGKILL');
        }, options.timeoutMs)
      : undefined;
    child.once('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      const ms = nowMs() - started;
      if (timer) clearTimeout(timer);
      // 'exit' can come before the pipes are drained; wait for them.
      let open = 2;
      const done = (): void => {
        if (--open === 0) resolve({ code, signal, stdout, stderr, ms });
      };
      if (child.stdout.readableEnded) done();
      else child.stdout.once('close', done);
      if (child.stderr.readableEnded) done();
      else child.stderr.once('close', done);
    });
  });
}

/** exec, failing with the tool's output when it does not exit 0. */
export async function execOk(cmd: string, args: readonly string[], options: Parameters<typeof exec>[2] = {}): Promise<ExecResult> {
  const r = await exec(cmd, args, options);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${r.code ?? r.signal}:\n${r.stderr.trim()}\n${r.stdout.trim().slice(-2000)}`);
  }
  return r;
}

/** First line of a command's output, or undefined when it cannot be run. */
export async function versionOf(cmd: string, args: readonly string[], pattern?: RegExp): Promise<string | undefined> {
  try {
    const r = await exec(cmd, args, { timeoutMs: 10_000 });
    const text = `${r.stdout}\n${r.stderr}`;
    if (pattern) return pattern.exec(text)?.[1];
    return text.split('\n').find((l) => l.trim() !== '')?.trim();
  } catch {
    return undefined;
  }
}

/**
 * Parent of every scratch file of a run. tmpfs (/dev/shm) when there is one: the bench
 * compares fetchers, not the VM's disk (mpop and getmail6 fsync every message they deliver).
 * BENCH_TMPDIR overrides.
 */
export async function benchTmpRoot(): Promise<string> {
  const preferred = process.env.BENCH_TMPDIR ?? ((await isDir('/dev/shm')) ? '/dev/shm' : tmpdir());
  const dir = await mkdtemp(join(preferred, 'mailfetch-bench-'));
  // Dovecot's and getmail6's delivery processes run as nobody and must traverse it.
  await chmod(dir, 0o755);
  return dir;
}

async function isDir(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}

export async function freshDir(parent: string, name: string): Promise<string> {
  const dir = join(parent, name);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  return dir;
}

export async function makeMaildir(dir: string): Promise<string> {
  for (const sub of ['tmp', 'new', 'cur']) await mkdir(join(dir, sub), { recursive: true });
  return dir;
}

/** Messages delivered into a Maildir (new/ and cur/). */
export async function countMaildir(dir: string): Promise<number> {
  let n = 0;
  for (const sub of ['new', 'cur']) n += (await readdir(join(dir, sub)).catch(() => [])).length;
  return n;
}

/** Rotates `items` by `by` (interleaving: each repetition starts with a different tool). */
export function rotate<T>(items: readonly T[], by: number): T[] {
  const k = ((by % items.length) + items.length) % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  return `${ms.toFixed(0)} ms`;
}

export function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return 'n/a';
  return x >= 10 ? `${x.toFixed(1)}x` : `${x.toFixed(2)}x`;
}

export function fmtMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

/** Node's SDK v3 warns about Node 20 on every process start: noise in a benchmark log. */
export function silenceNodeVersionWarning(): void {
  const original = process.emitWarning.bind(process) as (...args: unknown[]) => void;
  process.emitWarning = ((warning: unknown, ...rest: unknown[]) => {
    const text = typeof warning === 'string' ? warning : warning instanceof Error ? warning.message : '';
    const type = typeof rest[0] === 'string' ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
    if (type === 'NodeVersionSupportWarning' || /NodeVersionSupportWarning|require node >=22/.test(text)) return;
    original(warning, ...rest);
  }) as typeof process.emitWarning;
}

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux everywhere). */
const USER_HZ = 100;

/**
 * CPU time (user + system, ms) a process has used so far, its threads included; undefined
 * when it cannot be read (no /proc, the process is gone). For `pid` undefined: this process.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold blanks: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
  } catch {
    return undefined;
  }
}
