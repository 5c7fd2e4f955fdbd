import { Pop3Error, Pop3ErrorCode } from './errors';

/** One signal for everything that ends a session early: the deadline or the caller's AbortSignal. */
export interface SessionSignal {
  readonly signal: AbortSignal;
  /** Stops the deadline and forgets the caller's signal (the session is over). Idempotent. */
  dispose(): void;
}

/**
 * Aborts after `sessionMs`, or when `external` aborts, with a Pop3Error ABORTED as the
 * reason; everything that waits (connect, handshakes, reads) listens to this one signal.
 */
export function createSessionSignal(sessionMs: number, external: AbortSignal | undefined): SessionSignal {
  const controller = new AbortController();
  const deadline = setTimeout(() => controller.abort(new Pop3Error(Pop3ErrorCode.ABORTED, `the session deadline of ${sessionMs} ms passed`)), sessionMs);
  deadline.unref();
  const onAbort = (): void => controller.abort(new Pop3Error(Pop3ErrorCode.ABORTED, 'the session was aborted', { cause: external?.reason }));
  if (external?.aborted) onAbort();
  else external?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    dispose: () => {
      clearTimeout(deadline);
      external?.removeEventListener('abort', onAbort);
    },
  };
}
