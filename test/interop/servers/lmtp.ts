/**
 * A minimal LMTP client (RFC 2033) for delivering test messages to Cyrus over its unix
 * socket: LHLO, then per message MAIL FROM / RCPT TO / DATA, then QUIT. Lock-step, one
 * recipient; any unexpected reply fails the delivery with the server's text.
 */
import net from 'node:net';

/** Every reply must arrive within this (lmtpd answers in milliseconds). */
const REPLY_TIMEOUT_MS = 10_000;
const SENDER = 'interop@example.com';

export async function deliverOverLmtp(socketPath: string, recipient: string, messages: readonly Buffer[]): Promise<void> {
  const session = await LmtpSession.open(socketPath);
  try {
    await session.expect(null, 220);
    await session.expect('LHLO localhost', 250);
    for (const message of messages) {
      await session.expect(`MAIL FROM:<${SENDER}>`, 250);
      await session.expect(`RCPT TO:<${recipient}>`, 250);
      await session.expect('DATA', 354);
      await session.expect(dataBlock(message), 250);
    }
    await session.expect('QUIT', 221);
  } finally {
    session.close();
  }
}

/** The message dot-stuffed, with a final CRLF, and the terminating "." line. */
function dataBlock(message: Buffer): Buffer {
  let text = message.toString('latin1');
  if (!text.endsWith('\r\n')) text += '\r\n';
  text = text.replace(/^\./gm, '..');
  return Buffer.from(`${text}.`, 'latin1');
}

class LmtpSession {
  private buffered = '';
  private waiter: (() => void) | undefined;
  private closed: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString('latin1');
      this.waiter?.();
    });
    const end = (err?: Error): void => {
      this.closed ??= err ?? new Error('LMTP connection closed');
      this.waiter?.();
    };
    socket.once('error', end);
    socket.once('close', () => end());
  }

  static open(path: string): Promise<LmtpSession> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(path);
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new LmtpSession(socket));
      });
    });
  }

  /** Sends `command` (null: nothing, for the greeting) and checks the final reply's code. */
  async expect(command: string | Buffer | null, code: number): Promise<void> {
    if (command !== null) this.socket.write(Buffer.concat([Buffer.isBuffer(command) ? command : Buffer.from(command, 'latin1'), Buffer.from('\r\n')]));
    const reply = await this.readReply();
    if (!reply.startsWith(String(code))) {
      const shown = command === null ? '(greeting)' : Buffer.isBuffer(command) ? '(message data)' : command;
      throw new Error(`LMTP: ${shown} got "${reply.trim()}", wanted ${code}`);
    }
  }

  /** One reply: lines "NNN-..." continue it, "NNN ..." ends it. Returns the last line. */
  private async readReply(): Promise<string> {
    const deadline = Date.now() + REPLY_TIMEOUT_MS;
    for (;;) {
      const end = this.buffered.indexOf('\r\n');
      if (end >= 0) {
        const line = this.buffered.slice(0, end);
        this.buffered = this.buffered.slice(end + 2);
        if (line[3] !== '-') return line;
        continue;
      }
      if (this.closed) throw this.closed;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`LMTP: no reply within ${REPLY_TIMEOUT_MS} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
