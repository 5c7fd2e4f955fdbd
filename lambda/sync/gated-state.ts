import type { StateStore } from '../state/state-store';
import { SyncError, SyncErrorCode } from './errors';

/** StateStore methods that change the state. */
const WRITES: ReadonlySet<string> = new Set(['putSummary', 'putRecord', 'putStoredRecords', 'markDeleted', 'expireRecords', 'noteListSize']);

/**
 * The state as one session sees it: once the run has given up waiting for that session
 * (it hung past the deadline), its late writes are refused. The run has released its
 * lease by then, and a session that wakes up later (a frozen Lambda resumed) must not
 * write a summary or records over a successor's.
 */
export function gatedState(state: StateStore, isOpen: () => boolean): StateStore {
  return new Proxy(state, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (typeof prop !== 'string' || !WRITES.has(prop)) return value.bind(target);
      return (...args: unknown[]) => {
        if (!isOpen()) return Promise.reject(new SyncError(SyncErrorCode.DEADLINE, `the run gave up on this session at its deadline; its late ${prop} was not written`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}
