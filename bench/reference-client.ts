/**
 * The ceiling: the least work any POP3 client can do to fetch a mailbox over TLS. Plain
 * node:tls, no engine code: log in, STAT, then every RETR (and QUIT) in one write, and
 * count bytes until the last multi-line terminator. No parsing beyond finding the
 * terminators, no unstuffing, no copying: the bytes are dropped as they arrive.
 */
import tls from 'node:tls';

export interface ReferenceOptions {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly ca: Buffer;
}

export interface ReferenceResult {
  readonly messages: number;
  /** Octets received for the RETR replies (status lines, stuffed bodies, terminators). */
  readonly wireOctets: number;
  readonly protocol: string | null;
  readonly cipher: string;
}

const TERMINATOR = Buffer.from('\r\n.\r\n', 'latin1');

export function fetchReference(o: ReferenceOptions): Promise<ReferenceResult> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: o.host, port: o.port, ca: o.ca, servername: 'localhost' });
    socket.setNoDelay(true);
    let phase: 'greeting' | 'login' | 'retr' | 'quit' = 'greeting';
    let protocol: string | null = null;
    let cipher = 'unknown';
    socket.once('secureConnect', () => {
      protocol = socket.getProtocol();
      cipher = socket.getCipher()?.name ?? 'unknown';
    });
    let text = '';
    let okLines = 0;
    let count = 0;
    let seen = 0;
    let wireOctets = 0;
    /** Last bytes of the previous chunk, for a terminator split across chunks. */
    let tail: Buffer = Buffer.alloc(0);
    const fail = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', fail);

    /** Status lines before the RETR phase (greeting, USER, PASS, STAT). */
    const onLines = (chunk: Buffer): Buffer | undefined => {
      text += chunk.toString('latin1');
      for (let nl = text.indexOf('\r\n'); nl >= 0; nl = text.indexOf('\r\n')) {
        const line = text.slice(0, nl);
        text = text.slice(nl + 2);
        if (!line.startsWith('+OK')) {
          fail(new Error(`reference client: ${line}`));
          return undefined;
        }
        if (phase === 'greeting') {
          phase = 'login';
          socket.write(`USER ${o.user}\r\nPASS ${o.password}\r\nSTAT\r\n`);
        } else if (++okLines === 3) {
          count = Number(/^\+OK (\d+)/.exec(line)?.[1] ?? 0);
          phase = 'retr';
          let commands = '';
          for (let i = 1; i <= count; i++) commands += `RETR ${i}\r\n`;
          socket.write(`${commands}QUIT\r\n`);
          const rest = Buffer.from(text, 'latin1');
          text = '';
          return rest;
        }
      }
      return undefined;
    };

    const countTerminators = (chunk: Buffer): void => {
      wireOctets += chunk.length;
      if (tail.length > 0) {
        // Only a terminator that straddles the boundary: one starting in `tail`.
        const joint = Buffer.concat([tail, chunk.subarray(0, TERMINATOR.length - 1)]);
        for (let p = joint.indexOf(TERMINATOR); p >= 0 && p < tail.length; p = joint.indexOf(TERMINATOR, p + 1)) seen++;
      }
      for (let p = chunk.indexOf(TERMINATOR); p >= 0; p = chunk.indexOf(TERMINATOR, p + TERMINATOR.length)) seen++;
      // The last 4 bytes seen, even when this chunk is shorter than that.
      const keep = TERMINATOR.length - 1;
      tail = chunk.length >= keep ? chunk.subarray(chunk.length - keep) : Buffer.concat([tail, chunk]).subarray(-keep);
      if (seen >= count) {
        phase = 'quit';
        socket.end();
      }
    };

    socket.on('data', (chunk: Buffer) => {
      if (phase === 'greeting' || phase === 'login') {
        const rest = onLines(chunk);
        if (rest === undefined) return;
        if (count === 0) {
          phase = 'quit';
          socket.end();
          return;
        }
        if (rest.length > 0) countTerminators(rest);
        return;
      }
      if (phase === 'retr') countTerminators(chunk);
    });
    socket.once('close', () => {
      if (phase !== 'quit') {
        reject(new Error(`reference client: connection closed after ${seen}/${count} messages`));
        return;
      }
      resolve({ messages: seen, wireOctets, protocol, cipher });
    });
  });
}
