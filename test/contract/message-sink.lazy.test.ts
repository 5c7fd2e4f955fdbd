/**
 * The MessageSink contract on LazyMessageSink (the worker's wrapper, which loads its adapter
 * on the first store or read) around a FileMessageSink: wrapping changes nothing a sink promises.
 */
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, sep } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { isTemporaryFileName } from '../../lambda/storage/atomic-file';
import { FileMessageSink, WRITE_BATCH_OCTETS } from '../../lambda/storage/file-message-sink';
import { LazyMessageSink } from '../../lambda/storage/lazy-message-sink';
import { messageSinkContract } from './message-sink.contract';

/** As for FileMessageSink: one write batch, the source's buffered chunks and one being gathered. */
const READ_AHEAD_BOUND_OCTETS = WRITE_BATCH_OCTETS + 512 * 1024;

let root: string;
let sinks = 0;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'mailfetch-contract-lazy-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'));
}

messageSinkContract('LazyMessageSink around FileMessageSink', () => ({
  create: async () => {
    const directory = join(root, `sink-${++sinks}`);
    const prefix = 'messages/';
    const files = new FileMessageSink({ directory, prefix });
    return {
      sink: new LazyMessageSink(prefix, async () => files),
      prefix,
      read: (key) =>
        readFile(files.pathOf(key)).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        }),
      keys: async (keyPrefix) => (await filesBelow(directory)).filter((f) => f.startsWith(keyPrefix) && !isTemporaryFileName(basename(f))),
      leftovers: async () => (await filesBelow(directory)).filter((f) => isTemporaryFileName(basename(f))),
      persistedOctets: async (key) => {
        const path = files.pathOf(key);
        const names = await readdir(dirname(path)).catch(() => [] as string[]);
        const temps = names.filter((n) => n.startsWith(`.${basename(path)}.tmp-`));
        const sizes = await Promise.all(temps.map((n) => stat(join(dirname(path), n)).then((s) => s.size, () => 0)));
        return sizes.reduce((a, b) => a + b, 0);
      },
      readAheadBoundOctets: READ_AHEAD_BOUND_OCTETS,
    };
  },
}));
