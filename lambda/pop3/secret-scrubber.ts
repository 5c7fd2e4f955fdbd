/**
 * Removes credentials from untrusted text before anything derives a string from it. A
 * server may echo what it was sent (whole command lines, SASL blobs, decoded payloads), so
 * every form in which a secret can come back is registered:
 *
 * - the secret's UTF-8 bytes read as latin1 (server lines are handled as latin1 strings, so
 *   this matches byte-exactly, non-ASCII included), and the secret as it is (the latin1
 *   form a server may use, and the form in the client's own strings: commands, traces);
 * - base64 "cores": the secret inside a SASL blob sits at any byte offset, so its base64
 *   text depends on the neighbouring bytes only at the edges. For each of the 3 alignments
 *   the characters that depend on the secret alone are registered: any base64 blob that
 *   contains the secret contains one of them;
 * - every blob the client actually sent while authenticating (see {@link addSent}).
 *
 * Matches are replaced by `***`. The text is latin1 in and out, so lines stay byte-exact
 * where nothing matched.
 */

export const SECRET_MASK = '***';
/**
 * Base64 cores shorter than this are not registered: 3 characters (18 bits) would match
 * innocent text about once in 262,000 positions. A secret of 1 or 2 bytes has no core that
 * long; its raw form and the exact blobs sent are still scrubbed.
 */
export const MIN_BASE64_CORE_CHARS = 4;
/** Sent forms shorter than this carry no secret (`=` for an empty response, OAUTHBEARER's `\x01`). */
const MIN_SENT_FORM_CHARS = 4;

export class SecretScrubber {
  /** Longest first, so a blob is replaced whole before a secret inside it is looked for. */
  private forms: string[] = [];
  /** First byte -> the latin1 forms starting with it, as bytes (see holdsBytes). */
  private readonly byFirstByte: (Buffer[] | undefined)[] = new Array<Buffer[] | undefined>(256);

  /** Registers a secret (password, token) in all its forms. Secrets of any length count. */
  addSecret(secret: string): void {
    if (secret.length === 0) return;
    const utf8 = Buffer.from(secret, 'utf8');
    this.add(utf8.toString('latin1'));
    this.add(secret);
    for (const core of base64Cores(utf8)) this.add(core);
  }

  /** Registers a string the client sent that carries or derives from a secret (a SASL blob, a digest). */
  addSent(form: string): void {
    if (form.length >= MIN_SENT_FORM_CHARS) this.add(form);
  }

  /** `text` with every registered form replaced by `***`. */
  scrub(text: string): string {
    let out = text;
    for (const form of this.forms) if (out.includes(form)) out = out.split(form).join(SECRET_MASK);
    return out;
  }

  /**
   * Whether `bytes[start, end)`, read as latin1, holds a registered form: a listing's ids,
   * tested where they were received (no string per id). Each byte is looked up in a table
   * of the forms' first bytes; only a hit compares forms.
   */
  holdsBytes(bytes: Uint8Array, start: number, end: number): boolean {
    const byFirst = this.byFirstByte;
    for (let i = start; i < end; i++) {
      const candidates = byFirst[bytes[i]!];
      if (candidates === undefined) continue;
      for (const form of candidates) if (form.length <= end - i && startsWith(bytes, i, form)) return true;
    }
    return false;
  }

  /**
   * A server line with every registered form replaced; the same Buffer when nothing matched.
   * The first `keep` octets (a status keyword such as "+OK": fixed protocol text that reveals
   * nothing) stay as they are, so a one-character secret like "O" cannot break every reply;
   * only a secret that runs across them makes the whole line scrubbed.
   */
  scrubLine(line: Buffer, keep = 0): Buffer {
    // Most lines hold no form: found out on the bytes, without a string per line.
    if (this.forms.length === 0 || !this.holdsBytes(line, 0, line.length)) return line;
    const text = line.toString('latin1');
    const head = text.slice(0, keep);
    let clean = head + this.scrub(text.slice(keep));
    if (keep > 0 && this.forms.some((f) => clean.includes(f) && !head.includes(f))) clean = this.scrub(text);
    return clean === text ? line : Buffer.from(clean, 'latin1');
  }

  private add(form: string): void {
    if (form.length === 0 || form === SECRET_MASK || this.forms.includes(form)) return;
    this.forms.push(form);
    this.forms.sort((a, b) => b.length - a.length);
    // A form with a character beyond latin1 matches no byte string read as latin1.
    if (isLatin1(form)) (this.byFirstByte[form.charCodeAt(0)] ??= []).push(Buffer.from(form, 'latin1'));
  }
}

function isLatin1(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return false;
  return true;
}

function startsWith(bytes: Uint8Array, at: number, form: Buffer): boolean {
  for (let k = 0; k < form.length; k++) if (bytes[at + k] !== form[k]) return false;
  return true;
}

/**
 * Base64 text that encodes `bytes` wherever they sit in a larger blob: for each byte
 * alignment (0, 1, 2) the characters whose 6 bits come from `bytes` alone, without the
 * edge characters that also take bits from the neighbours.
 */
export function base64Cores(bytes: Buffer): string[] {
  const cores: string[] = [];
  for (let align = 0; align < 3; align++) {
    const total = align + bytes.length;
    const padded = Buffer.concat([Buffer.alloc(align), bytes, Buffer.alloc((3 - (total % 3)) % 3)]);
    const text = padded.toString('base64');
    // Character k holds bits [6k, 6k + 6) of the padded bytes; the secret spans bits [8 align, 8 total).
    const first = Math.ceil((8 * align) / 6);
    const end = Math.floor((8 * total) / 6);
    if (end - first >= MIN_BASE64_CORE_CHARS) cores.push(text.slice(first, end));
  }
  return cores;
}
