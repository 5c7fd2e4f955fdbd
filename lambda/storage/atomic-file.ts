/**
 * A file that appears whole or not at all: bytes go to a temporary file in the target's
 * directory, which is fsynced, renamed over the target, and the directory fsynced (so the
 * rename itself survives a power cut). A crash at any point leaves the target as it was
 * (absent, or an earlier complete copy) plus at most the temporary file, whose name says
 * what it is: `.<target name>.tmp-<12 hex>`. It starts with a dot and never ends in the
 * target's extension, so nothing that looks for `*.eml` ever picks one up.
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StorageError, StorageErrorCode, fromFileError } from './errors';

const TEMP_SUFFIX_RANDOM_BYTES = 6;
const TEMP_NAME_PATTERN = /^\..+\.tmp-[0-9a-f]{12}$/;
/** Windows cannot open a directory to fsync it; there, NTFS journals the rename itself. */
const CAN_SYNC_DIRECTORIES = process.platform !== 'win32';

/** Whether a directory entry is a temporary file of this module (a write in progress, or one a crash left). */
export function isTemporaryFileName(name: string): boolean {
  return TEMP_NAME_PATTERN.test(name);
}

export class AtomicFile {
  private written = 0;
  private closed = false;

  private constructor(
    readonly targetPath: string,
    readonly tempPath: string,
    private readonly handle: FileHandle,
  ) {}

  /** Creates the temporary file next to `targetPath` (whose directory must exist). */
  static async create(targetPath: string, mode: number): Promise<AtomicFile> {
    const tempName = `.${basename(targetPath)}.tmp-${randomBytes(TEMP_SUFFIX_RANDOM_BYTES).toString('hex')}`;
    const tempPath = join(dirname(targetPath), tempName);
    let handle: FileHandle;
    try {
      // 'wx': never write into a file someone else created under this name.
      handle = await open(tempPath, 'wx', mode);
    } catch (err) {
      throw fromFileError(err, 'create', tempPath);
    }
    return new AtomicFile(targetPath, tempPath, handle);
  }

  /** Appends `data` whole (a short write is continued, not ignored). */
  async write(data: Buffer): Promise<void> {
    let offset = 0;
    try {
      while (offset < data.length) {
        const { bytesWritten } = await this.handle.write(data, offset, data.length - offset);
        offset += bytesWritten;
      }
    } catch (err) {
      throw fromFileError(err, 'write', this.tempPath);
    } finally {
      this.written += offset;
    }
  }

  /**
   * Makes the file durable under the target name. `expectedOctets` is what the caller
   * counted (and hashed): the file must hold exactly that many, or nothing is renamed.
   */
  async commit(expectedOctets: number): Promise<void> {
    await this.step('stat', async () => {
      const { size } = await this.handle.stat();
      if (size !== expectedOctets || this.written !== expectedOctets) {
        throw new StorageError(
          StorageErrorCode.WRITE_FAILED,
          `${this.tempPath} holds ${size} octets after writing ${this.written}, expected ${expectedOctets}: not stored`,
        );
      }
    });
    await this.step('fsync', () => this.handle.sync());
    await this.close();
    await this.step('rename', () => rename(this.tempPath, this.targetPath));
    await syncDirectory(dirname(this.targetPath));
  }

  /** Closes and removes the temporary file; never throws (the caller reports the first failure). */
  async discard(): Promise<void> {
    await this.close().catch(() => undefined);
    await rm(this.tempPath, { force: true }).catch(() => undefined);
  }

  private async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.step('close', () => this.handle.close());
  }

  private async step(operation: string, action: () => Promise<void>): Promise<void> {
    try {
      await action();
    } catch (err) {
      throw err instanceof StorageError ? err : fromFileError(err, operation, this.tempPath);
    }
  }
}

/** fsyncs a directory, so that entries created or renamed in it survive a power cut. */
export async function syncDirectory(path: string): Promise<void> {
  if (!CAN_SYNC_DIRECTORIES) return;
  let handle: FileHandle | undefined;
  try {
    handle = await open(path, 'r');
    await handle.sync();
  } catch (err) {
    throw fromFileError(err, 'fsync directory', path);
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/**
 * Removes the temporary files in `directory` that were last written more than
 * `olderThanMs` ago (0: every one). A write in progress keeps touching its file, so an
 * age well above the longest stall of a source tells abandoned files from live ones.
 * Returns the names removed.
 */
export async function removeStaleTemporaryFiles(directory: string, olderThanMs: number, nowMs = Date.now()): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(directory);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw fromFileError(err, 'list', directory);
  }
  const removed: string[] = [];
  for (const name of names.filter(isTemporaryFileName)) {
    const path = join(directory, name);
    try {
      if (olderThanMs > 0 && nowMs - (await stat(path)).mtimeMs <= olderThanMs) continue;
      await rm(path, { force: true });
      removed.push(name);
    } catch {
      // Gone meanwhile, or not ours to remove: the next sweep tries again.
    }
  }
  return removed;
}
