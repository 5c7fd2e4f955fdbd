/**
 * `npm run sim:fleet`: the 10,000-mailbox simulation (bench/fleet-sim-run.ts). Prints the
 * figures per mailbox check, writes them to bench/results/fleet-sim-<N>.json and, for the
 * documented run of 10,000 mailboxes, regenerates docs/cost.md from them.
 *
 *   npm run sim:fleet                         10,000 mailboxes (about 15 minutes here)
 *   npm run sim:fleet -- --mailboxes 200      a quick check (figures not for the docs)
 *   npm run sim:fleet -- --report-only FILE   docs/cost.md again from a result file
 *
 * Options: --mail-percent P (1), --existing N (3 messages on each server), --concurrency N
 * (worker invocations at once; the construct's default), --per-message N (the construct's
 * default), --seed N, --docs / --no-docs. Local endpoints on 127.0.0.1 only; it stops by
 * itself (each sweep is bounded by 20 minutes).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { costReport } from './cost-report';
import { perCheck, perTick } from './fleet-sim-figures';
import { runFleetSim, type FleetSimResult } from './fleet-sim-run';
import { log } from './common';
import { machineInfo } from './machine';
import { fleetSimTable } from './fleet-sim-table';

const ROOT = resolve(import.meta.dirname, '..');
/** The size the docs describe. */
export const DOCUMENTED_MAILBOXES = 10_000;

export interface FleetSimRecord {
  readonly date: string;
  readonly machine: ReturnType<typeof machineInfo>;
  readonly settings: FleetSimResult['settings'];
  readonly idle: ReturnType<typeof perCheck>;
  readonly mail: ReturnType<typeof perCheck>;
  readonly tick: ReturnType<typeof perTick>;
  readonly mailTick: ReturnType<typeof perTick>;
  readonly baselineSeconds: number;
  readonly delivered: { readonly mailboxes: number; readonly messages: number };
  readonly problems: readonly string[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      mailboxes: { type: 'string' },
      'mail-percent': { type: 'string' },
      existing: { type: 'string' },
      concurrency: { type: 'string' },
      'per-message': { type: 'string' },
      seed: { type: 'string' },
      docs: { type: 'boolean' },
      'no-docs': { type: 'boolean' },
      'report-only': { type: 'string' },
    },
  });
  if (values['report-only'] !== undefined) {
    const record = JSON.parse(await readFile(values['report-only'], 'utf8')) as FleetSimRecord;
    await writeDocs(record);
    return;
  }
  const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));
  const machine = machineInfo();
  const result = await runFleetSim({
    ...definedNumber('mailboxes', num(values.mailboxes)),
    ...definedNumber('mailPercent', num(values['mail-percent'])),
    ...definedNumber('existingMessages', num(values.existing)),
    ...definedNumber('maxConcurrency', num(values.concurrency)),
    ...definedNumber('mailboxesPerMessage', num(values['per-message'])),
    ...definedNumber('seed', num(values.seed)),
    log,
  });
  const record: FleetSimRecord = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine,
    settings: result.settings,
    idle: perCheck(result.idle),
    mail: perCheck(result.mail),
    tick: perTick(result.idle),
    mailTick: perTick(result.mail),
    baselineSeconds: result.baseline.wallMs / 1000,
    delivered: { mailboxes: Object.keys(result.delivered).length, messages: Object.values(result.delivered).reduce((a, b) => a + b, 0) },
    problems: result.problems,
  };
  console.log(fleetSimTable(record));
  const out = join(ROOT, 'bench', 'results', `fleet-sim-${result.settings.mailboxes}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify(record, null, 2)}\n`);
  log(`wrote ${out}`);
  const docs = values.docs === true || (values['no-docs'] !== true && result.settings.mailboxes === DOCUMENTED_MAILBOXES);
  if (docs && result.problems.length === 0) await writeDocs(record);
  if (result.problems.length > 0) {
    console.error(`\n${result.problems.length} behaviour check(s) failed:\n${result.problems.map((p) => `  - ${p}`).join('\n')}`);
    process.exitCode = 1;
  }
}

async function writeDocs(record: FleetSimRecord): Promise<void> {
  const path = join(ROOT, 'docs', 'cost.md');
  await writeFile(path, costReport(record));
  log(`wrote ${path}`);
}

function definedNumber<K extends string>(key: K, value: number | undefined): { [P in K]?: number } {
  if (value !== undefined && !(Number.isFinite(value) && value > 0)) throw new Error(`--${key}: a positive number, got ${value}`);
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: number };
}

await main();
