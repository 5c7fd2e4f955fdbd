/** Small text helpers for human-readable output. */

const KIB = 1024;
const UNITS = ['KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `812 B`, `5.2 KiB`, `1.0 MiB`. */
export function formatBytes(octets: number): string {
  if (octets < KIB) return `${octets} B`;
  let value = octets / KIB;
  let unit = 0;
  while (value >= KIB && unit < UNITS.length - 1) {
    value /= KIB;
    unit++;
  }
  return `${value.toFixed(1)} ${UNITS[unit]}`;
}

/** `850 ms`, `2.3 s`, `4 min 12 s`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

/** `1 message`, `3 messages`. */
export function plural(count: number, singular: string, pluralForm = `${singular}s`): string {
  return `${count} ${count === 1 ? singular : pluralForm}`;
}

/**
 * Server-supplied text (capabilities, certificate names, error messages quoting replies)
 * made safe for a terminal: control characters, which could move the cursor or recolour
 * the screen, become '?'.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '?');
}

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** How long ago an ISO time was, coarsely: `40 s ago`, `5 min ago`, `3 h ago`, `2 d ago`; `never` when unset. */
export function formatAge(iso: string | undefined, nowMs: number): string {
  if (iso === undefined) return 'never';
  const ms = Math.max(0, nowMs - Date.parse(iso));
  if (ms < MINUTE_MS) return `${Math.round(ms / SECOND_MS)} s ago`;
  if (ms < HOUR_MS) return `${Math.round(ms / MINUTE_MS)} min ago`;
  if (ms < DAY_MS) return `${Math.round(ms / HOUR_MS)} h ago`;
  return `${Math.round(ms / DAY_MS)} d ago`;
}

/** Rows as columns padded to their widest cell (the last column is not padded). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd() + '\n').join('');
}
