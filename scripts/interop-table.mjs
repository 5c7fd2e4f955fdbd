#!/usr/bin/env node
// Renders the interoperability results (test/interop/results.json, written by
// `INTEROP_WRITE_RESULTS=1 npm run test:interop`) as the README's Markdown table.
//   node scripts/interop-table.mjs            print the table
//   node scripts/interop-table.mjs --readme   replace the table in README.md (between markers)
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'test', 'interop', 'results.json');
const README = join(ROOT, 'README.md');
const START = '<!-- interop-table:start (scripts/interop-table.mjs) -->';
const END = '<!-- interop-table:end -->';
// Same order as FEATURES in test/interop/combinations.ts.
const FEATURES = ['STLS', 'implicit TLS', 'plaintext', 'USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'pipelining', 'lock-step', 'keep', 'delete'];
const ORDER = ['dovecot', 'mailutils', 'popa3d', 'courier', 'cyrus'];

/** `✅ n` when all n cells with the feature passed, `❌ failed/n` otherwise, `—` when not offered. */
function cell(tally) {
  if (!tally) return '—';
  const total = tally.passed + tally.failed;
  return tally.failed === 0 ? `✅ ${total}` : `❌ ${tally.failed}/${total}`;
}

function quirks(list) {
  const entries = Object.entries(list);
  if (entries.length === 0) return '—';
  return entries.map(([name, outcome]) => `${outcome === 'passed' ? '✅' : '❌'} ${name}`).join('<br>');
}

export function renderTable(results) {
  const names = Object.keys(results.servers).sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
  const header = `| Server | ${FEATURES.join(' | ')} | Quirks handled |`;
  const rule = `|${' --- |'.repeat(FEATURES.length + 2)}`;
  const rows = names.map((name) => {
    const s = results.servers[name];
    const label = `${s.label}${s.version ? ` ${s.version}` : ''}`;
    if (s.status === 'skipped') return `| ${label} | ${FEATURES.map(() => 'skipped').join(' | ')} | ${s.reason ?? ''} |`;
    return `| ${label} | ${FEATURES.map((f) => cell(s.features[f])).join(' | ')} | ${quirks(s.quirks)} |`;
  });
  const when = results.generatedAt.slice(0, 10);
  const legend = `✅ n: all n matrix cells using the feature passed; ❌ f/n: f of n failed; —: not offered by the server. Generated ${when} with Node ${results.node}.`;
  return [header, rule, ...rows, '', legend].join('\n');
}

const results = JSON.parse(readFileSync(RESULTS, 'utf8'));
const table = renderTable(results);
if (process.argv.includes('--readme')) {
  const readme = readFileSync(README, 'utf8');
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) {
    console.error(`README.md has no ${START} ... ${END} markers`);
    process.exit(1);
  }
  writeFileSync(README, `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
  console.log('README.md: interoperability table updated');
} else {
  console.log(table);
}
