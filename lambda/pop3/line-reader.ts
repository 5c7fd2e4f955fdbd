import type { ByteChannel } from './byte-channel';
import { Pop3Error, Pop3ErrorCode } from './errors';

const LF = 0x0a;
const CR = 0x0d;

/**
 * Reads one line (status line or listing line) from the channel and returns it without
 * its line end (CRLF, or a bare LF from sloppy servers). A line longer than `maxOctets`
 * fails with LINE_TOO_LONG: the bound keeps a server that never sends LF from filling memory.
 */
export async function readLine(channel: ByteChannel, maxOctets: number): Promise<Buffer> {
  let parts: Buffer[] | undefined;
  let total = 0;
  for (;;) {
    const chunk = await channel.read();
    if (chunk === null) {
      throw new Pop3Error(Pop3ErrorCode.CONNECTION_CLOSED, 'the server closed the connection while a reply was pending');
    }
    const nl = chunk.indexOf(LF);
    if (nl === -1) {
      total += chunk.length;
      if (total > maxOctets) throw tooLong(maxOctets);
      (parts ??= []).push(chunk);
      continue;
    }
    if (nl + 1 < chunk.length) channel.unshift(chunk.subarray(nl + 1));
    total += nl + 1;
    if (total > maxOctets) throw tooLong(maxOctets);
    const tail = chunk.subarray(0, nl + 1);
    const line = parts ? Buffer.concat([...parts, tail]) : tail;
    const end = line.length >= 2 && line[line.length - 2] === CR ? line.length - 2 : line.length - 1;
    return line.subarray(0, end);
  }
}

/**
 * The next line when the first chunk the channel holds has it whole (taken from the
 * channel, as {@link readLine} would return it); undefined, consuming nothing, otherwise.
 * A reply that was received already is then read without waiting (no promise).
 */
export function readBufferedLine(channel: ByteChannel, maxOctets: number): Buffer | undefined {
  const chunk = channel.buffered()[0];
  const nl = chunk === undefined ? -1 : chunk.indexOf(LF);
  if (nl === -1) return undefined;
  if (nl + 1 > maxOctets) throw tooLong(maxOctets);
  channel.readBuffered();
  if (nl + 1 < chunk!.length) channel.unshift(chunk!.subarray(nl + 1));
  return chunk!.subarray(0, nl > 0 && chunk![nl - 1] === CR ? nl - 1 : nl);
}

function tooLong(maxOctets: number): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.LINE_TOO_LONG, `the server sent a line longer than ${maxOctets} octets`);
}
