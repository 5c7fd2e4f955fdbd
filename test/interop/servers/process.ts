/**
 * Runs a server confined to its own PID namespace (and, for servers that need root-only
 * paths like /etc/courier, its own mount namespace), so that stopping it - or the test
 * process dying - takes every process it started with it:
 *
 *   setpriv --pdeathsig KILL -- unshare --pid --kill-child [--mount] -- sh -c '"$@" & wait $!' init <argv>
 *
 * `--pdeathsig` kills unshare when the test process dies (even by SIGKILL); `--kill-child`
 * then kills the namespace's init, and the kernel kills everything else in the namespace.
 * The init is a root shell that only waits: the kernel clears a process's parent-death
 * signal when it changes its uid or gid, so a server that drops privileges (setpriv to
 * nobody, or its own setgid) must not be the init, or it survives the test process.
 * unshare blocks SIGTERM, so stop() uses SIGKILL: test servers need no graceful shutdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** How long stop() waits for the namespace to be gone. */
const STOP_TIMEOUT_MS = 5_000;
const STOP_POLL_INTERVAL_MS = 20;
/** Output kept for error messages (the newest part). */
const OUTPUT_LIMIT_CHARS = 8_000;

export interface ConfinedOptions {
  /** Private mount namespace (for bind mounts over /etc, /var, /run). */
  readonly mountNamespace?: boolean;
  /** Environment of the launched program (default: PATH only). */
  readonly env?: NodeJS.ProcessEnv;
}

export class ConfinedProcess {
  private output = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;
  private stopping: Promise<void> | undefined;

  private constructor(private readonly child: ChildProcess) {
    const keep = (chunk: Buffer): void => {
      this.output = (this.output + chunk.toString('utf8')).slice(-OUTPUT_LIMIT_CHARS);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve();
      });
      child.once('error', (err) => {
        keep(Buffer.from(`spawn failed: ${err.message}\n`));
        this.exitCode = -1;
        resolve();
      });
    });
    live.add(this);
    installExitHook();
  }

  static launch(argv: readonly string[], options: ConfinedOptions = {}): ConfinedProcess {
    const ns = ['unshare', '--pid', '--kill-child', ...(options.mountNamespace ? ['--mount', '--propagation', 'private'] : []), '--'];
    const init = ['sh', '-c', '"$@" & wait $!', 'confined-init'];
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', ...ns, ...init, ...argv], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    });
    return new ConfinedProcess(child);
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** What the launcher and the server wrote to stdout/stderr (the newest part). */
  get log(): string {
    return this.output.trim() || '(no output)';
  }

  /** State and output, for error messages. */
  describeExit(): string {
    const state = this.running ? 'still running' : `exited with code ${String(this.exitCode)}`;
    return `${state}; output:\n${this.log}`;
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    live.delete(this);
    const init = this.namespaceInit();
    if (this.running) this.child.kill('SIGKILL');
    await this.exited;
    // The kernel tears the namespace down after its init died; wait until it did, so the
    // ports are free and no file in the work dir is still open when it is removed.
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (init !== undefined && isAlive(init) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, STOP_POLL_INTERVAL_MS));
    }
  }

  /** The namespace's init: unshare's only child. */
  private namespaceInit(): number | undefined {
    const pid = this.child.pid;
    if (pid === undefined) return undefined;
    try {
      const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/);
      const first = Number(children[0]);
      return Number.isInteger(first) && first > 0 ? first : undefined;
    } catch {
      return undefined;
    }
  }

  /** From the process 'exit' hook, where nothing asynchronous runs any more. */
  killSync(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** A process that exited but was not reaped yet (Z) counts as gone. */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const live = new Set<ConfinedProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const p of live) p.killSync();
  });
}
