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
