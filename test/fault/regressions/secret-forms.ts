/**
 * The canary credentials (test/fixtures/canary-secrets.json) and every form in which one
 * could leak: the forms scripts/check-secret-leaks.mjs greps CI logs for, plus the short
 * ones it leaves out (the tests check those themselves) and the blobs a client sent while
 * authenticating. A hit is reported by the form's label, never by the secret itself, so a
 * failing test does not print a credential into the test log.
 */
import { readFileSync } from 'node:fs';

export interface CanarySecrets {
  readonly password: string;
  readonly shortPassword: string;
  readonly oneCharPassword: string;
  readonly accessToken: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
}

export const CANARIES: CanarySecrets = JSON.parse(readFileSync(new URL('../../fixtures/canary-secrets.json', import.meta.url), 'utf8')) as CanarySecrets;

/** One searchable form of a secret, with a label that does not give the secret away. */
export interface SecretForm {
  readonly label: string;
  readonly text: string;
}

/** Command verbs of RFC 1939/2449/5034: a client line that starts with another word is a SASL continuation. */
const VERBS = new Set(['CAPA', 'USER', 'PASS', 'APOP', 'AUTH', 'STLS', 'STAT', 'LIST', 'UIDL', 'RETR', 'TOP', 'DELE', 'RSET', 'NOOP', 'QUIT']);
/** Base64 text shorter than this would match innocent text by chance (see secret-scrubber.ts). */
const MIN_BASE64_CHARS = 4;

/**
 * The secret as typed, its UTF-8 bytes read as latin1, the same with every byte outside
 * printable ASCII made `?` (what a sanitiser that only replaces bytes leaves, when enough of
 * the secret is ASCII to recognise it), its base64, and the base64 "cores" that encode it
 * at each of the three byte alignments inside a larger blob.
 */
export function secretForms(name: string, secret: string): SecretForm[] {
  const utf8 = Buffer.from(secret, 'utf8');
  const latin1 = utf8.toString('latin1');
  const forms: SecretForm[] = [
    { label: `${name} (raw)`, text: secret },
    { label: `${name} (UTF-8 bytes as latin1)`, text: latin1 },
    { label: `${name} (base64)`, text: utf8.toString('base64') },
  ];
  const sanitised = latin1.replace(/[^\x20-\x7e]/g, '?');
  if (sanitised !== latin1 && sanitised.replace(/\?/g, '').length >= 6) forms.push({ label: `${name} (non-ASCII bytes as ?)`, text: sanitised });
  for (let align = 0; align < 3; align++) {
    const text = Buffer.concat([Buffer.alloc(align, 0x41), utf8, Buffer.alloc(3, 0x41)]).toString('base64');
    const core = text.slice(Math.ceil((8 * align) / 6), Math.floor((8 * (align + utf8.length)) / 6));
    if (core.length >= MIN_BASE64_CHARS) forms.push({ label: `${name} (base64 core, alignment ${align})`, text: core });
  }
  return dedupe(forms);
}

/**
 * What the client sent while authenticating (PASS argument, APOP digest, AUTH initial
 * response, SASL continuations), each as sent and, for base64, decoded (and its last word:
 * the CRAM-MD5 digest), from the lines the fake server recorded. The user name alone
 * (LOGIN's first answer) is not a secret.
 */
export function sentForms(lines: readonly string[], username: string): SecretForm[] {
  const forms: SecretForm[] = [];
  const userBase64 = Buffer.from(username, 'utf8').toString('base64');
  lines.forEach((line, i) => {
    const words = line.split(' ');
    const verb = words[0]!.toUpperCase();
    let blob: string | undefined;
    if (verb === 'PASS') blob = words.slice(1).join(' ');
    else if (verb === 'APOP') blob = words[2];
    else if (verb === 'AUTH') blob = words[2];
    else if (!VERBS.has(verb) && line !== '*') blob = line;
    if (blob === undefined || blob === '' || blob === '=' || blob === userBase64) return;
    forms.push({ label: `sent line ${i} (as sent)`, text: blob });
    if (/^[A-Za-z0-9+/]+=*$/.test(blob) && blob.length % 4 === 0) {
      const decoded = Buffer.from(blob, 'base64').toString('latin1');
      if (decoded.length >= MIN_BASE64_CHARS) forms.push({ label: `sent line ${i} (decoded)`, text: decoded });
      const last = decoded.split(' ').pop()!;
      if (last.length >= MIN_BASE64_CHARS && last !== decoded) forms.push({ label: `sent line ${i} (decoded, last word)`, text: last });
    }
  });
  return dedupe(forms.filter((f) => f.text.length > 0));
}

/** The labels of the forms found in `text` (latin1 and UTF-8 views of each form). */
export function leaksIn(text: string, forms: readonly SecretForm[]): string[] {
  return forms.filter((f) => text.includes(f.text) || text.includes(Buffer.from(f.text, 'utf8').toString('latin1'))).map((f) => f.label);
}

function dedupe(forms: SecretForm[]): SecretForm[] {
  const seen = new Set<string>();
  return forms.filter((f) => (seen.has(f.text) ? false : (seen.add(f.text), true)));
}
