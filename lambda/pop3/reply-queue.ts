/**
 * The reply slot of a session: replies are read one at a time, in the order their commands
 * were sent. A command starts reading when the one before released the slot. Once no reply
 * can come any more (the connection failed, or the server closed behind an unread message)
 * commands do not wait: they run at once, to fail with that reason instead of waiting
 * behind a stream nobody reads; that state is final, so the slot no longer matters then.
 *
 * A start runs in a microtask, never inside the release of the reply before it (a run of
 * buffered replies does not recurse): one hop and no promise per reply.
 */
import { Fifo } from './fifo';
import { soon } from './soon';

export class ReplyQueue {
  /** Commands waiting for the slot, oldest first. */
  private readonly waiting = new Fifo<() => void>();
  private busy = false;

  /**
   * Runs `start` once the slot is the caller's, or at once (without the slot) when `failFast`.
   * @returns whether the caller holds the slot (and must {@link leave} it)
   */
  enter(start: () => void, failFast: boolean): boolean {
    if (failFast) {
      soon(start);
      return false;
    }
    if (this.busy) this.waiting.push(start);
    else {
      this.busy = true;
      soon(start);
    }
    return true;
  }

  /** The holder is done: the oldest waiting command gets the slot. */
  leave(): void {
    const next = this.waiting.shift();
    if (next) soon(next);
    else this.busy = false;
  }

  /** No reply can come any more: every waiting command runs now (and fails). */
  wakeAll(): void {
    for (const start of this.waiting.takeAll()) soon(start);
  }
}
