/**
 * Which messages this session had the server send (RETR answered +OK) and which of those
 * are durably stored and recorded. Some servers act on a retrieval by themselves when the
 * session ends with QUIT: Gmail marks every retrieved message as downloaded and never lists
 * it again; RFC 2449 `EXPIRE 0` servers delete it. So a session may end with QUIT only when
 * every retrieved message is safe; otherwise it ends without QUIT, which changes nothing.
 */
export class RetrievalLedger {
  private readonly retrieved = new Map<number, string>();
  private readonly safe = new Set<number>();

  /**
   * A RETR of message `number` was issued (uid for reports). It counts from the moment it
   * is sent: the server may act on it before this session reads the reply.
   */
  retrievedOne(number: number, uid: string): void {
    this.retrieved.set(number, uid);
  }

  /** The server answered that RETR with -ERR: it sent nothing, nothing to protect. */
  refused(number: number): void {
    if (!this.safe.has(number)) this.retrieved.delete(number);
  }

  /** Message `number`'s exact bytes are stored and recorded (or proven identical to stored ones). */
  stored(number: number): void {
    this.safe.add(number);
  }

  /** Retrieved messages that are not safe: a QUIT now could lose them. */
  unsafe(): { number: number; uid: string }[] {
    return [...this.retrieved].filter(([n]) => !this.safe.has(n)).map(([number, uid]) => ({ number, uid }));
  }
}
