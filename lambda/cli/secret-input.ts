/**
 * Credentials typed by the operator, never on the command line (shell history, `ps`) and
 * never echoed or logged: read from standard input, one per line, or prompted for without
 * echo when standard input is a terminal. Errors say what is missing, never what was read.
 */
import type { CliIo, InputStream } from './cli-io';
import { UsageError } from './exit-codes';

/** A password or a token is a line; more than this on stdin is not what the flag expects. */
const MAX_INPUT_BYTES = 64 * 1024;
const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const BACKSPACE = new Set(['\u007f', '\b']);

/**
 * One value per label, in order: the lines of stdin (a final newline is optional), or
 * answers to prompts on stderr when stdin is a terminal.
 * @throws UsageError when stdin is missing, too long, or holds another number of lines
 */
export async function readSecretLines(io: CliIo, labels: readonly string[], command: string): Promise<string[]> {
  const stdin = io.stdin;
  if (stdin === undefined) throw new UsageError(`${labels.join(' and ')} must come from standard input, and there is none`, command);
  if (stdin.isTTY === true && stdin.setRawMode !== undefined) {
    const values: string[] = [];
    for (const label of labels) values.push(await prompt(io, stdin, label, command));
    return values;
  }
  const lines = (await readAll(stdin, command)).split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  const what = labels.length === 1 ? `one line (${labels[0]})` : `${labels.length} lines (${labels.join(', ')}, in this order)`;
  if (lines.length !== labels.length) throw new UsageError(`standard input must hold ${what}; it holds ${lines.length}`, command);
  const empty = lines.findIndex((line) => line === '');
  if (empty >= 0) throw new UsageError(`${labels[empty]} on standard input is empty`, command);
  return lines;
}

/**
 * The whole of standard input as one value: a PEM file (`< key.pem`). A terminal is refused:
 * PEM is not typed.
 * @throws UsageError when stdin is missing, a terminal, empty or too long
 */
export async function readSecretText(io: CliIo, label: string, command: string): Promise<string> {
  const stdin = io.stdin;
  if (stdin === undefined || stdin.isTTY === true) throw new UsageError(`${label} must come from standard input, redirected from its file (< FILE)`, command);
  const text = await readAll(stdin, command);
  if (text.trim() === '') throw new UsageError(`${label} on standard input is empty`, command);
  return text;
}

async function readAll(stdin: InputStream, command: string): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    size += bytes.length;
    if (size > MAX_INPUT_BYTES) throw new UsageError(`standard input is longer than ${MAX_INPUT_BYTES} bytes: it should hold credentials, one per line`, command);
    chunks.push(bytes);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one line from a terminal in raw mode: nothing is echoed; Ctrl-C cancels. */
function prompt(io: CliIo, stdin: InputStream, label: string, command: string): Promise<string> {
  io.stderr.write(`${label}: `);
  stdin.setRawMode!(true);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error: UsageError | undefined): void => {
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      stdin.setRawMode!(false);
      stdin.pause();
      io.stderr.write('\n');
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onEnd = (): void => finish(new UsageError(`standard input ended before ${label} was entered`, command));
    const onData = (chunk: Buffer | string): void => {
      for (const char of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (char === CTRL_C || char === CTRL_D) return finish(new UsageError('cancelled: nothing was changed', command));
        if (char === '\r' || char === '\n') return finish(value === '' ? new UsageError(`${label} is empty`, command) : undefined);
        value = BACKSPACE.has(char) ? value.slice(0, -1) : value + char;
      }
    };
    stdin.on('data', onData);
    stdin.on('end', onEnd);
    stdin.resume();
  });
}
