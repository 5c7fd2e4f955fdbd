// A POP3 server in a few lines, for engine tests that need only canned answers: it greets,
// then hands each command's verb (upper-case) to `answer` with the socket to write to.
import net from 'node:net';

export interface VerbServer {
  readonly port: number;
  close(): void;
}

export async function verbServer(answer: (verb: string, socket: net.Socket) => void): Promise<VerbServer> {
  const server = net.createServer((socket) => {
    socket.write('+OK ready\r\n');
    let pending = '';
    socket.on('data', (data: Buffer) => {
      pending += data.toString('latin1');
      for (let nl = pending.indexOf('\r\n'); nl !== -1; nl = pending.indexOf('\r\n')) {
        const verb = pending.slice(0, nl).split(' ')[0]!.toUpperCase();
        pending = pending.slice(nl + 2);
        answer(verb, socket);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}
