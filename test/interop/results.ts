/**
 * Collects the matrix's outcomes per server and feature, and writes them to
 * test/interop/results.json when INTEROP_WRITE_RESULTS=1 (scripts/interop-table.mjs renders
 * the docs/testing.md table from that file). Without the variable nothing is written, so a partial
 * or local run never overwrites the published results by accident. INTEROP_WRITE_RESULTS=merge
 * replaces only the servers this run ran (a run of one server, `-t Dovecot`), keeping the
 * others' results from the file, also those of servers skipped here (a worktree without
 * the .cache/interop of scripts/install-interop-servers.sh).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Feature } from './combinations';
import type { ServerProfile } from './servers/types';

export const RESULTS_FILE = join(dirname(fileURLToPath(import.meta.url)), 'results.json');

interface Tally {
  passed: number;
  failed: number;
}

interface ServerResults {
  label: string;
  version?: string;
  status: 'ran' | 'skipped';
  reason?: string;
  features: Partial<Record<Feature, Tally>>;
  quirks: Record<string, 'passed' | 'failed'>;
}

export class Results {
  private readonly servers = new Map<string, ServerResults>();

  private entry(profile: ServerProfile): ServerResults {
    let e = this.servers.get(profile.name);
    if (!e) {
      e = { label: profile.label, status: 'ran', features: {}, quirks: {} };
      this.servers.set(profile.name, e);
    }
    return e;
  }

  started(profile: ServerProfile, version: string): void {
    this.entry(profile).version = version;
  }

  skipped(profile: ServerProfile, reason: string): void {
    Object.assign(this.entry(profile), { status: 'skipped', reason });
  }

  combination(profile: ServerProfile, features: readonly Feature[], passed: boolean): void {
    const e = this.entry(profile);
    for (const f of features) {
      const t = (e.features[f] ??= { passed: 0, failed: 0 });
      if (passed) t.passed++;
      else t.failed++;
    }
  }

  quirk(profile: ServerProfile, name: string, passed: boolean): void {
    const q = this.entry(profile).quirks;
    // A quirk proven by several tests passes only if all of them did.
    q[name] = passed && q[name] !== 'failed' ? 'passed' : 'failed';
  }

  /** Runs a test body and books its outcome; the error, if any, is rethrown for vitest. */
  async track(book: (passed: boolean) => void, body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (error) {
      book(false);
      throw error;
    }
    book(true);
  }

  writeIfAsked(): void {
    const mode = process.env.INTEROP_WRITE_RESULTS;
    if (mode !== '1' && mode !== 'merge') return;
    const kept = mode === 'merge' ? (JSON.parse(readFileSync(RESULTS_FILE, 'utf8')) as { servers: Record<string, ServerResults> }).servers : {};
    const touched = [...this.servers].filter(([, e]) => mode !== 'merge' || e.status === 'ran');
    const servers = { ...kept, ...Object.fromEntries(touched) };
    const data = { generatedAt: new Date().toISOString(), node: process.version, servers };
    writeFileSync(RESULTS_FILE, `${JSON.stringify(data, null, 2)}\n`);
  }
}
