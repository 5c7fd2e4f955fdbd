#!/usr/bin/env node
// Greps test output for the canary credentials of test/fixtures/canary-secrets.json, in
// every form a leak could take: raw (UTF-8 and latin1 views) and base64 (the secret at any
// offset inside a SASL blob; the characters that depend on neighbours are left out).
// Usage: node scripts/check-secret-leaks.mjs <file-or-dir>...   Exit 1 on any hit.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const canaries = JSON.parse(readFileSync(join(root, 'test/fixtures/canary-secrets.json'), 'utf8'));
/** Shorter forms would match ordinary text by chance; the test itself asserts on those. */
const MIN_FORM_CHARS = 6;

function forms(secret) {
  const bytes = Buffer.from(secret, 'utf8');
  const out = new Set([secret, bytes.toString('latin1')]);
  for (let shift = 0; shift < 3; shift++) {
    const b64 = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    // Characters wholly inside the secret: from the first full base64 quantum after the
    // shift to the last full quantum, so neighbouring bytes do not change them.
    const start = Math.ceil(shift / 3) * 4;
    const end = Math.floor((shift + bytes.length) / 3) * 4;
    if (end > start) out.add(b64.slice(start, end));
  }
  return [...out].filter((f) => f.length >= MIN_FORM_CHARS);
}

function files(path) {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return [];
  if (st.isFile()) return [path];
  return readdirSync(path).flatMap((name) => files(join(path, name)));
}

const needles = Object.entries(canaries)
  .filter(([name]) => !name.startsWith('$'))
  .flatMap(([name, secret]) => forms(secret).map((form) => ({ name, form })));
const scanned = process.argv.slice(2).flatMap(files);
let hits = 0;
for (const file of scanned) {
  const text = readFileSync(file).toString('latin1');
  for (const { name, form } of needles) {
    if (text.includes(Buffer.from(form, 'utf8').toString('latin1')) || text.includes(form)) {
      console.error(`secret leak: ${name} (form ${JSON.stringify(form.slice(0, 4))}...) in ${file}`);
      hits++;
    }
  }
}
console.log(`secret scan: ${scanned.length} file(s), ${needles.length} forms of ${Object.keys(canaries).length - 1} canary secrets, ${hits} hit(s)`);
process.exit(hits > 0 ? 1 : 0);
