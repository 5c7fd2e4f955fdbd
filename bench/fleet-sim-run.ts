/**
 * The fleet simulation (issue 9, "proof at scale, locally"): N mailboxes on one fake POP3
 * server, registered with sealed credentials in DynamoDB Local, run by the real dispatcher
 * and worker code against local endpoints. Three sweeps:
 *
 *   0. set-up: every mailbox baselined (the mail already on its server recorded as seen);
 *   1. idle: a dispatcher tick, every mailbox checked, no new mail anywhere;
 *   2. mail: `mailPercent` % of the mailboxes first receive 1-3 small messages each.
 *
 * Returns what each measured sweep asked of each service, and checks the behaviour:
 * every mailbox ran exactly once per sweep, no run found its mailbox busy or failed, and
 * the mail delivered before sweep 2 is in S3, nothing else.
 */
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { MAIL_FETCHER_DEFAULTS } from '../lib/mail-fetcher-props';
import { Prng } from '../test/fault/prng';
import { SIM_BUCKET, SIM_PREFIX, startFleetWorld, type FleetWorld } from './fleet-sim-world';
import { SweepRunner, type SweepMeasure } from './fleet-sweep';
import { LogTally } from './log-tally';

export interface FleetSimOptions {
  /** @default 10_000 */
  readonly mailboxes?: number;
  /** Share of the mailboxes that receive mail before sweep 2, in percent. @default 1 */
  readonly mailPercent?: number;
  /** Messages already on each server. @default 3 */
  readonly existingMessages?: number;
  /** Worker invocations at once (the event source mapping's maximumConcurrency). @default the construct's */
  readonly maxConcurrency?: number;
  /** @default the construct's */
  readonly mailboxesPerMessage?: number;
  /** @default 1 */
  readonly seed?: number;
  /** A sweep that has not finished by then fails the simulation. @default 20 minutes */
  readonly sweepTimeoutMs?: number;
  /** Progress lines. @default none */
  readonly log?: (message: string) => void;
}

export interface FleetSimSettings {
  readonly mailboxes: number;
  readonly mailPercent: number;
  readonly existingMessages: number;
  readonly maxConcurrency: number;
  readonly mailboxesPerMessage: number;
  readonly hostSessionLimit: number;
  readonly sqsTimeScale: number;
  readonly seed: number;
}

export interface FleetSimResult {
  readonly settings: FleetSimSettings;
  readonly baseline: SweepMeasure;
  readonly idle: SweepMeasure;
  readonly mail: SweepMeasure;
  /** Mailbox -> messages delivered before the mail sweep. */
  readonly delivered: Readonly<Record<string, number>>;
  /** Objects found in S3 per receiving mailbox after the mail sweep. */
  readonly stored: Readonly<Record<string, number>>;
  /** Behaviour checks that failed (empty: all held). */
  readonly problems: readonly string[];
}

/** The queue's clock runs this much faster: the dispatcher's minute of spreading passes in 2 s. */
const SQS_TIME_SCALE = 30;
const DEFAULT_SWEEP_TIMEOUT_MS = 20 * 60_000;

export async function runFleetSim(options: FleetSimOptions = {}): Promise<FleetSimResult> {
  const maxConcurrency = options.maxConcurrency ?? MAIL_FETCHER_DEFAULTS.maxConcurrentInvocations;
  const settings: FleetSimSettings = {
    mailboxes: options.mailboxes ?? 10_000,
    mailPercent: options.mailPercent ?? 1,
    existingMessages: options.existingMessages ?? 3,
    maxConcurrency,
    mailboxesPerMessage: options.mailboxesPerMessage ?? MAIL_FETCHER_DEFAULTS.mailboxesPerMessage,
    // One fake server stands for the fleet's many hosts: its cap never holds a run back.
    hostSessionLimit: maxConcurrency * 10,
    sqsTimeScale: SQS_TIME_SCALE,
    seed: options.seed ?? 1,
  };
  const log = options.log ?? ((): void => {});
  const tally = new LogTally();
  log(`starting DynamoDB Local, s3rver, SQS, KMS and one POP3 server with ${settings.mailboxes} accounts; registering the fleet`);
  const world = await startFleetWorld({
    mailboxes: settings.mailboxes,
    existingMessages: settings.existingMessages,
    sqsTimeScale: settings.sqsTimeScale,
    hostSessionLimit: settings.hostSessionLimit,
    workerWrite: tally.worker,
    dispatcherWrite: tally.dispatcherLine,
  });
  try {
    const runner = new SweepRunner(world, tally, {
      maxConcurrency: settings.maxConcurrency,
      mailboxesPerMessage: settings.mailboxesPerMessage,
      timeoutMs: options.sweepTimeoutMs ?? DEFAULT_SWEEP_TIMEOUT_MS,
      stalePeriods: MAIL_FETCHER_DEFAULTS.missedRunPeriods,
    });
    log('sweep 0: baseline of every mailbox (set-up)');
    const baseline = await runner.baseline();
    log(`sweep 1: no new mail (${baseline.runs.length} baselined in ${(baseline.wallMs / 1000).toFixed(1)} s)`);
    const idle = await runner.dispatched();
    const delivered = deliverMail(world, settings);
    log(`sweep 2: ${Object.keys(delivered).length} mailboxes received mail (idle sweep took ${(idle.wallMs / 1000).toFixed(1)} s)`);
    const mail = await runner.dispatched();
    const stored = await storedObjects(world, Object.keys(delivered));
    const problems = [
      ...checkSweep('baseline', baseline, world.mailboxIds, {}),
      ...checkSweep('idle', idle, world.mailboxIds, {}),
      ...checkSweep('mail', mail, world.mailboxIds, delivered),
      ...Object.entries(delivered).filter(([id, n]) => stored[id] !== n).map(([id, n]) => `mail: ${id} received ${n} message(s), S3 holds ${stored[id] ?? 0}`),
      ...(world.dlq.messages.length > 0 ? [`${world.dlq.messages.length} message(s) in the dead-letter queue`] : []),
    ];
    return { settings, baseline, idle, mail, delivered, stored, problems };
  } finally {
    await world.stop();
  }
}

/** `mailPercent` % of the mailboxes (seeded) receive 1-3 small messages each. */
function deliverMail(world: FleetWorld, settings: FleetSimSettings): Record<string, number> {
  const prng = new Prng(settings.seed).fork('mail');
  const count = Math.max(1, Math.round((settings.mailboxes * settings.mailPercent) / 100));
  const ids = [...world.mailboxIds];
  const delivered: Record<string, number> = {};
  for (let i = 0; i < count && ids.length > 0; i++) {
    const [id] = ids.splice(prng.int(0, ids.length - 1), 1) as [string];
    const n = prng.int(1, 3);
    const account = world.pop3.account(world.userOf(id))!;
    for (let k = 1; k <= n; k++) {
      account.deliver(`From: sender@example.com\r\nTo: ${id}@example.com\r\nSubject: new ${k}\r\nMessage-ID: <${id}.new.${k}@example.com>\r\n\r\n${'new mail body line\r\n'.repeat(50)}`);
    }
    delivered[id] = n;
  }
  return delivered;
}

async function storedObjects(world: FleetWorld, ids: readonly string[]): Promise<Record<string, number>> {
  const stored: Record<string, number> = {};
  for (const id of ids) {
    const out = await world.admin.s3.send(new ListObjectsV2Command({ Bucket: SIM_BUCKET, Prefix: `${SIM_PREFIX}${id}/` }));
    stored[id] = out.KeyCount ?? 0;
  }
  return stored;
}

/** Every mailbox exactly once, every run ok, fetching exactly what was delivered. */
function checkSweep(name: string, sweep: SweepMeasure, ids: readonly string[], delivered: Readonly<Record<string, number>>): string[] {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  for (const run of sweep.runs) seen.set(run.mailbox, (seen.get(run.mailbox) ?? 0) + 1);
  const missing = ids.filter((id) => !seen.has(id));
  const twice = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  if (missing.length > 0) problems.push(`${name}: ${missing.length} mailbox(es) not checked, e.g. ${missing.slice(0, 3).join(', ')}`);
  if (twice.length > 0) problems.push(`${name}: ${twice.length} mailbox(es) checked more than once, e.g. ${twice.slice(0, 3).join(', ')}`);
  const notOk = sweep.runs.filter((r) => r.status !== 'ok');
  if (notOk.length > 0) problems.push(`${name}: ${notOk.length} run(s) not ok, e.g. ${notOk.slice(0, 3).map((r) => `${r.mailbox} ${r.status}`).join(', ')}`);
  const wrong = sweep.runs.filter((r) => r.fetched !== (delivered[r.mailbox] ?? 0));
  if (wrong.length > 0) problems.push(`${name}: ${wrong.length} run(s) fetched other than delivered, e.g. ${wrong.slice(0, 3).map((r) => `${r.mailbox} fetched ${r.fetched}`).join(', ')}`);
  return problems;
}
