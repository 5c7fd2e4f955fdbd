const SETTLED = Promise.resolve();

/**
 * Runs `task` as a microtask, as queueMicrotask does, without the AsyncResource Node creates
 * for every queueMicrotask call (a few microseconds each, paid several times per message).
 * `task` must not throw: like an exception thrown from queueMicrotask's callback, it would
 * end the process (as an unhandled rejection).
 */
export function soon(task: () => void): void {
  void SETTLED.then(task);
}
