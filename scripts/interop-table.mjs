#!/usr/bin/env node
// Renders the interoperability results (test/interop/results.json, written by
// `INTEROP_WRITE_RESULTS=1 npm run test:interop`) as the Markdown table of docs/testing.md.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RESULTS = join(ROOT, 'test', 'interop', 'results.json');
const RESULTS_NAME = 'test/interop/results.json';
const DOC = join(ROOT, 'docs', 'testing.md');
const DOC_NAME = 'docs/testing.md';
const START = '<!-- interop-table:start (scripts/interop-table.mjs) -->';
const END = '<!-- interop-table:end -->';
// Same order as FEATURES in test/interop/combinations.ts.
const FEATURES = ['STLS', 'implicit TLS', 'plaintext', 'USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5', 'SCRAM-SHA-1', 'SCRAM-SHA-256', 'EXTERNAL', 'pipelining', 'lock-step', 'keep', 'delete'];
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

const USAGE = `Usage: node scripts/interop-table.mjs [--write | --check | --help]

Renders test/interop/results.json (INTEROP_WRITE_RESULTS=1 npm run test:interop) as the
interoperability table of ${DOC_NAME}.
  (no option)  print the table
  --write      replace the table in ${DOC_NAME}, between its markers (--readme: the old name)
  --check      change nothing; exit 1 when ${DOC_NAME} does not hold this table
  --help       this help
`;

/** The document with its table replaced by `table`; exits when the markers are missing. */
function withTable(doc, table) {
  const start = doc.indexOf(START);
  const end = doc.indexOf(END);
  if (start < 0 || end < start) {
    console.error(`${DOC_NAME} has no ${START} ... ${END} markers`);
    process.exit(1);
  }
  return `${doc.slice(0, start + START.length)}\n${table}\n${doc.slice(end)}`;
}

const args = process.argv.slice(2);
const unknown = args.filter((a) => !['--write', '--readme', '--check', '--help', '-h'].includes(a));
if (args.includes('--help') || args.includes('-h')) {
  process.stdout.write(USAGE);
} else if (unknown.length > 0) {
  console.error(`unknown option ${unknown[0]}\n\n${USAGE}`);
  process.exit(2);
} else {
  const table = renderTable(JSON.parse(readFileSync(RESULTS, 'utf8')));
  if (args.includes('--check')) {
    const doc = readFileSync(DOC, 'utf8');
    const current = withTable(doc, table) === doc;
    console.log(current ? `${DOC_NAME}: the interoperability table matches ${RESULTS_NAME}` : `${DOC_NAME}: the interoperability table differs from ${RESULTS_NAME}; run with --write`);
    process.exit(current ? 0 : 1);
  } else if (args.includes('--write') || args.includes('--readme')) {
    writeFileSync(DOC, withTable(readFileSync(DOC, 'utf8'), table));
    console.log(`${DOC_NAME}: interoperability table updated`);
  } else {
    console.log(table);
  }
}
