/**
 * Attachment file names are whatever the sender wrote (decoded from RFC 2047/2231): they
 * may hold `/`, `..`, control or bidirectional-override characters, or run to kilobytes.
 * `safeFilename` turns one into a single, harmless key segment: letters, marks and digits
 * of any script are kept; everything else but a few punctuation marks becomes `_`.
 */

/** Longest safe name in UTF-8 octets: keys stay far below S3's 1,024 and fit file systems' 255. */
export const MAX_SAFE_FILENAME_OCTETS = 120;
/** An extension longer than this is not kept apart when a name is cut. */
const MAX_KEPT_EXTENSION_CHARS = 16;
/** The name of an attachment that has none, or nothing left after cleaning. */
export const UNNAMED_ATTACHMENT = 'attachment';

/** Kept as they are: any script's letters, combining marks and digits, and these marks. */
const KEPT = /[\p{L}\p{M}\p{N} ._\-()+,=@!&']/u;

/** A single key segment for `name`: no `/`, no `..`, no control characters, at most MAX_SAFE_FILENAME_OCTETS. */
export function safeFilename(name: string | null | undefined): string {
  const kept = Array.from((name ?? '').normalize('NFC'), (ch) => (KEPT.test(ch) ? ch : '_')).join('');
  const cleaned = kept
    .replace(/\s+/g, ' ')
    .replace(/\.{2,}/g, '.')
    // A leading dot hides the file in most tools; trailing dots and blanks vanish on Windows.
    .replace(/^[\s.]+|[\s.]+$/g, '');
  return cleaned === '' ? UNNAMED_ATTACHMENT : cut(cleaned);
}

/** Cuts to MAX_SAFE_FILENAME_OCTETS on a character boundary, keeping a short extension. */
function cut(name: string): string {
  if (Buffer.byteLength(name) <= MAX_SAFE_FILENAME_OCTETS) return name;
  const dot = name.lastIndexOf('.');
  const extension = dot > 0 && name.length - dot <= MAX_KEPT_EXTENSION_CHARS + 1 ? name.slice(dot) : '';
  const budget = MAX_SAFE_FILENAME_OCTETS - Buffer.byteLength(extension);
  let stem = '';
  for (const ch of name.slice(0, name.length - extension.length)) {
    if (Buffer.byteLength(stem + ch) > budget) break;
    stem += ch;
  }
  return `${stem.replace(/[\s.]+$/, '')}${extension}`;
}
