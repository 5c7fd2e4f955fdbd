/**
 * Ctrl-C for commands that must not leave a mailbox locked (fetch, baseline). The first
 * SIGINT or SIGTERM aborts `signal`: the run starts nothing more, finishes what is in
 * flight, releases its lease and prints its summary, and the command exits 130 (143 for
 * SIGTERM). A second one exits at once, after the cleanups registered for that case (the
 * lease release) had a moment to run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CliIo, InterruptSignal } from './cli-io';
import { ExitCode } from './exit-codes';

/** What the second signal waits for the cleanups (one DynamoDB request each) before exiting anyway. */
export const FORCED_EXIT_CLEANUP_MS = 3_000;

const SIGNALS: readonly InterruptSignal[] = ['SIGINT', 'SIGTERM'];

export interface Interrupt {
  /** Aborted at the first signal. */
  readonly signal: AbortSignal;
  /** 130 or 143 once a signal came, else undefined. */
  exitCode(): ExitCode | undefined;
  /** Runs `cleanup` before a forced exit (the second signal); returns what unregisters it. */
  beforeForcedExit(cleanup: () => Promise<void>): () => void;
  /** Stops listening: the default handling (exit at once) applies again. */
  dispose(): void;
}

export function listenForInterrupts(io: CliIo): Interrupt {
  const controller = new AbortController();
  const cleanups = new Set<() => Promise<void>>();
  const signals = io.signals;
  let received: InterruptSignal | undefined;
  let forced = false;
  const exitCode = (): ExitCode | undefined => (received === undefined ? undefined : received === 'SIGTERM' ? ExitCode.TERMINATED : ExitCode.INTERRUPTED);
  // On a terminal the notice goes below the progress line, not into it.
  const say = (text: string): void => io.stderr.write(`${io.stderr.isTTY ? '\n' : ''}mailfetch: ${text}\n`);

  const forcedExit = async (): Promise<void> => {
    forced = true;
    say('interrupted again: exiting now, without waiting for the messages in flight (nothing retrieved is lost: the session ends without QUIT)');
    const done = Promise.allSettled([...cleanups].map((c) => c()));
    await Promise.race([done, sleep(FORCED_EXIT_CLEANUP_MS)]);
    signals?.exit(exitCode() ?? ExitCode.INTERRUPTED);
  };
  const listeners = SIGNALS.map((name) => {
    const listener = (): void => {
      if (forced) return signals?.exit(exitCode() ?? ExitCode.INTERRUPTED); // a third: no more waiting
      if (received !== undefined) return void forcedExit();
      received = name;
      say(`interrupted (${name}): finishing the messages in flight, then stopping; ${name === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again exits at once`);
      controller.abort(new Error(`interrupted by ${name}`));
    };
    signals?.on(name, listener);
    return { name, listener };
  });
  return {
    signal: controller.signal,
    exitCode,
    beforeForcedExit(cleanup) {
      cleanups.add(cleanup);
      return () => void cleanups.delete(cleanup);
    },
    dispose() {
      for (const { name, listener } of listeners) signals?.off(name, listener);
    },
  };
}
