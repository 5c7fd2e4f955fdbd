import { Pop3Error, Pop3ErrorCode } from '../pop3';

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
   * Registers the RETR whose reply is `reply` from the moment it is sent (the server may act
   * on it before this session reads the reply); an -ERR reply (nothing was sent) takes it
   * back. Returns `reply`, already observed.
   */
  track<T>(number: number, uid: string, reply: Promise<T>): Promise<T> {
    this.retrieved.set(number, uid);
    reply.catch((err: unknown) => {
      const refused = err instanceof Pop3Error && (err.code === Pop3ErrorCode.SERVER_ERROR || err.code === Pop3ErrorCode.SYS_TEMP);
      if (refused && !this.safe.has(number)) this.retrieved.delete(number);
    });
    return reply;
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
