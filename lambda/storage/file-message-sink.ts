/**
 * The file adapter of {@link MessageSink}: each message is a plain `.eml` file, byte-exact,
 * at `<directory>/<key>` where the key is the one S3 would get (`<prefix><mailbox>/<name>.eml`,
 * see object-key.ts), so any mail client, `grep` or `cat` opens what was fetched.
 *
 * Atomic like a PutObject: the bytes stream into a temporary file next to the final name,
 * which is fsynced and renamed over it (see atomic-file.ts). The final name holds nothing,
 * an earlier complete copy, or the new complete copy; never a partial one. A crash leaves
 * at most a temporary file, removed by the first store into that directory later on.
 * Memory stays flat: one batch of WRITE_BATCH_OCTETS at a time, whatever the message size.
 */
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AtomicFile, removeStaleTemporaryFiles, syncDirectory } from './atomic-file';
import { StorageError, fromFileError, invalidInput } from './errors';
import { MAX_HEADER_CAPTURE_OCTETS, captureHeaderBlock } from './header-block';
import type { MessageSink, StoreMessageInput, StoredMessage } from './message-sink';
import { MessageSource, storedMessage } from './message-source';
import { DEFAULT_PREFIX, objectKeyFor } from './object-key';

/** Chunks are gathered into writes of about this size: fewer system calls, still flat memory. */
export const WRITE_BATCH_OCTETS = 256 * 1024;
/**
 * A temporary file untouched for this long belongs to a write that died: longer than any
 * run (the CLI's 15 min time limit, Lambda's 15 min) could keep one open.
 */
export const DEFAULT_STALE_TEMP_AGE_MS = 60 * 60_000;
/** Mail is private: readable by its owner only. */
export const DEFAULT_FILE_MODE = 0o600;
const DIRECTORY_MODE = 0o700;

export interface FileMessageSinkOptions {
  /** The root directory; it and the directories below it are created when missing. */
  readonly directory: string;
  /**
   * Key prefix: a relative path below `directory`, usually ending in '/'.
   * @default 'messages/'
   */
  readonly prefix?: string;
  /**
   * Temporary files (of writes a crash interrupted) older than this are removed when a
   * store first writes into their directory. 0 removes them all: only for a directory that
   * no other process writes to (the CLI's `--local DIR`, which its state store locks).
   * @default 1 hour
   */
  readonly staleTempAgeMs?: number;
  /**
   * Permission bits of message files (directories get 0o700).
   * @default 0o600
   */
  readonly fileMode?: number;
}

type ResolvedOptions = Required<FileMessageSinkOptions>;

export class FileMessageSink implements MessageSink {
  private readonly options: ResolvedOptions;
  /** Directories prepared by this sink: created, fsynced into their parent, swept of stale temporary files. */
  private readonly prepared = new Map<string, Promise<void>>();

  constructor(options: FileMessageSinkOptions) {
    this.options = resolveOptions(options);
  }

  /** The root directory the keys are relative to. */
  get directory(): string {
    return this.options.directory;
  }

  objectKey(mailboxId: string, identity: string): string {
    return objectKeyFor(this.options.prefix, mailboxId, identity);
  }

  /** The file a key is stored in. */
  pathOf(key: string): string {
    return join(this.options.directory, key);
  }

  async store(input: StoreMessageInput): Promise<StoredMessage> {
    const source = new MessageSource(input.body);
    let file: AtomicFile | undefined;
    try {
      const key = this.objectKey(input.mailboxId, input.identity);
      const path = this.pathOf(key);
      await this.prepareDirectory(dirname(path));
      file = await AtomicFile.create(path, this.options.fileMode);
      await copy(source, file);
      const result = source.digest.result();
      await file.commit(result.size);
      return storedMessage(key, result);
    } catch (err) {
      // Whatever failed, the producer (the POP3 connection) must stop sending.
      source.destroy();
      await file?.discard();
      throw source.sourceFailure() ?? (err instanceof StorageError ? err : fromFileError(err, 'store', this.options.directory));
    }
  }

  async readHeaderBlock(key: string): Promise<Buffer | undefined> {
    const path = this.pathOf(key);
    let file;
    try {
      file = await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw fromFileError(err, 'readHeaderBlock', path);
    }
    try {
      const head = Buffer.alloc(MAX_HEADER_CAPTURE_OCTETS);
      const { bytesRead } = await file.read(head, 0, head.length, 0);
      return captureHeaderBlock(head.subarray(0, bytesRead));
    } catch (err) {
      throw fromFileError(err, 'readHeaderBlock', path);
    } finally {
      await file.close();
    }
  }

  /**
   * Creates the directory when missing (fsyncing the new entries into their parents), and
   * the first time this sink writes there, removes stale temporary files. Every store into
   * the directory waits for that sweep, so it never removes a file this sink is writing.
   */
  private prepareDirectory(directory: string): Promise<void> {
    let ready = this.prepared.get(directory);
    if (ready === undefined) {
      ready = (async () => {
        await createDirectory(directory);
        await removeStaleTemporaryFiles(directory, this.options.staleTempAgeMs);
      })();
      this.prepared.set(directory, ready);
      // A failure is reported to this store; the next one tries again.
      ready.catch(() => this.prepared.delete(directory));
      return ready;
    }
    // Prepared before, but may have been removed since (someone tidied up): recreate it.
    return ready.then(() => createDirectory(directory));
  }
}

/** Source -> file in batches: one batch in memory at a time, the next read only after it was written. */
async function copy(source: MessageSource, file: AtomicFile): Promise<void> {
  let batch: Buffer[] = [];
  let batched = 0;
  for (let chunk = await source.next(); chunk !== undefined; chunk = await source.next()) {
    batch.push(chunk);
    batched += chunk.length;
    if (batched >= WRITE_BATCH_OCTETS) {
      await file.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batched));
      batch = [];
      batched = 0;
    }
  }
  if (batched > 0) await file.write(Buffer.concat(batch, batched));
}

async function createDirectory(directory: string): Promise<void> {
  let created: string | undefined;
  try {
    created = await mkdir(directory, { recursive: true, mode: DIRECTORY_MODE });
  } catch (err) {
    throw fromFileError(err, 'create directory', directory);
  }
  if (created === undefined) return;
  // The new directories' entries must be durable before a file in them is reported stored.
  const parents = [dirname(created)];
  for (let path = directory; path !== created; path = dirname(path)) parents.push(dirname(path));
  for (const parent of parents) await syncDirectory(parent);
}

// ---------------------------------------------------------------------------------------
// Options

function resolveOptions(options: FileMessageSinkOptions): ResolvedOptions {
  const resolved: ResolvedOptions = {
    directory: options.directory,
    prefix: options.prefix ?? DEFAULT_PREFIX,
    staleTempAgeMs: options.staleTempAgeMs ?? DEFAULT_STALE_TEMP_AGE_MS,
    fileMode: options.fileMode ?? DEFAULT_FILE_MODE,
  };
  const problems = optionProblems(resolved);
  if (problems.length > 0) throw invalidInput(`invalid FileMessageSink options: ${problems.join('; ')}`);
  return resolved;
}

/** Every problem at once, so one fix round is enough. */
function optionProblems(o: ResolvedOptions): string[] {
  const problems: string[] = [];
  if (o.directory.length === 0) problems.push('directory is empty');
  const problem = prefixProblem(o.prefix);
  if (problem !== undefined) problems.push(problem);
  if (!Number.isSafeInteger(o.staleTempAgeMs) || o.staleTempAgeMs < 0) problems.push('staleTempAgeMs must be a non-negative integer');
  if (!Number.isInteger(o.fileMode) || o.fileMode < 0 || o.fileMode > 0o777) problems.push('fileMode must be permission bits (0 to 0o777)');
  return problems;
}

/**
 * A prefix must stay below the root directory and mean the same on every file system:
 * relative, no '.' or '..' segment, no empty segment, no backslash, no control character.
 */
export function prefixProblem(prefix: string): string | undefined {
  if (/[\p{Cc}\\]/u.test(prefix) || prefix.startsWith('/')) return 'prefix has control characters, a backslash or a leading /';
  const segments = prefix.split('/').slice(0, -1); // the part after the last '/' joins the mailbox id
  const last = prefix.split('/').at(-1) ?? '';
  if (segments.some((s) => s === '' || s === '.' || s === '..') || last === '.' || last === '..') {
    return 'prefix has an empty, "." or ".." path segment';
  }
  return undefined;
}
