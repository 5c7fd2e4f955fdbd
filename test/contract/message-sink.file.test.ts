/**
 * The MessageSink contract on FileMessageSink, each sink in a directory of its own; and on
 * LazyMessageSink around one (the worker's wrapper, which loads its sink on the first
 * store or read): wrapping changes nothing a sink promises.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { isTemporaryFileName } from '../../lambda/storage/atomic-file';
import { FileMessageSink, WRITE_BATCH_OCTETS } from '../../lambda/storage/file-message-sink';
import { LazyMessageSink } from '../../lambda/storage/lazy-message-sink';
import type { MessageSink } from '../../lambda/storage/message-sink';
import { messageSinkContract, type SinkFixture } from './message-sink.contract';

/** One write batch, the source's buffered chunks and one being gathered. */
const READ_AHEAD_BOUND_OCTETS = WRITE_BATCH_OCTETS + 512 * 1024;

let root: string;
let sinks = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailfetch-contract-files-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

/** Every file below `dir` (relative, '/'-separated), or none when it does not exist. */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

/** The fixture of a FileMessageSink, handed to the contract as `wrap` makes it. */
const fileSinks = (wrap: (files: FileMessageSink, prefix: string) => MessageSink) => (): SinkFixture => ({
  create: async () => {
    const directory = join(root, `sink-${++sinks}`);
    const prefix = 'messages/';
    const sink = new FileMessageSink({ directory, prefix });
    return {
      sink: wrap(sink, prefix),
      prefix,
      read: (key) =>
        readFile(sink.pathOf(key)).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        }),
      keys: async (keyPrefix) => (await filesBelow(directory)).filter((f) => f.startsWith(keyPrefix) && !isTemporaryFileName(basename(f))),
      leftovers: async () => (await filesBelow(directory)).filter((f) => isTemporaryFileName(basename(f))),
      // What reached the kernel: the message's temporary file (the only place a store writes to).
      persistedOctets: async (key) => {
        const path = sink.pathOf(key);
        const names = await readdir(dirname(path)).catch(() => [] as string[]);
        const temps = names.filter((n) => n.startsWith(`.${basename(path)}.tmp-`));
        const sizes = await Promise.all(temps.map((n) => stat(join(dirname(path), n)).then((s) => s.size, () => 0)));
        return sizes.reduce((a, b) => a + b, 0);
      },
      readAheadBoundOctets: READ_AHEAD_BOUND_OCTETS,
    };
  },
});

messageSinkContract('FileMessageSink', fileSinks((files) => files));
messageSinkContract('LazyMessageSink around FileMessageSink', fileSinks((files, prefix) => new LazyMessageSink(prefix, async () => files)));
