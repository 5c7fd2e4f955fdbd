/**
 * Log and trace lines a test produced, kept for its assertions and, when CI sets
 * MAILFETCH_TEST_LOG_DIR, written under it (CI greps that directory for the canary
 * credentials: scripts/check-secret-leaks.mjs).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const SUBDIR = 'server-semantics-regressions';

export class TestLog {
  readonly lines: string[] = [];

  constructor(private readonly name: string) {}

  add(line: string): void {
    this.lines.push(line);
  }

  /** Everything collected, one line per entry. */
  text(): string {
    return this.lines.join('\n');
  }

  /** Writes the lines to $MAILFETCH_TEST_LOG_DIR/server-semantics-regressions/<name>.log, if set. */
  async flush(): Promise<void> {
    const dir = process.env.MAILFETCH_TEST_LOG_DIR;
    if (!dir || this.lines.length === 0) return;
    await mkdir(join(dir, SUBDIR), { recursive: true });
    const file = `${this.name.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 120)}.log`;
    await writeFile(join(dir, SUBDIR, file), `${this.text()}\n`);
  }
}
