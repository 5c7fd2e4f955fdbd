/**
 * Random sequences from a seed: a server configuration, some mail, then a random mix of
 * arrivals, deletions and hidings by another client, clock advances and worker runs with
 * faults. The clean runs that must finish the job are not steps: the runner adds them.
 */
import type { CrashPoint } from '../../sync/harness';
import { Prng } from '../prng';
import { MIN_MAIL_OCTETS } from './mail';
import { COMBINATIONS, COMPOSES_WITH_EXPIRE_ZERO, EXPIRE_ZERO_SHARE } from './profiles';
import type { Fault, MailFlavor, MailSpec, ProfileName, Sequence, SequenceConfig, Step } from './types';

const SECOND_MS = 1_000;
const MINUTE_MS = 60 * SECOND_MS;
const HOUR_MS = 60 * MINUTE_MS;
/** Few sizes, so a recycled UIDL often comes back with the size of the message it named. */
const SIZES = [MIN_MAIL_OCTETS, 260, 300, 340] as const;
const MAX_MESSAGE_BYTES = 1_500;
/** Topics per sequence: few, so that shared-uidl gives shared UIDLs. */
const TOPICS = 4;
/** Review widening (MODEL_WIDEN=1): same-size header twins, more twins, deletions and crashes. */
const WIDEN = process.env.MODEL_WIDEN === '1';
/**
 * MODEL_LONG_CLOCK=1 (the fault run): clock steps of 45 days as well, past the TTL of
 * expiring records (the runner sweeps expired items as DynamoDB's TTL would).
 */
const LONG_CLOCK = process.env.MODEL_LONG_CLOCK === '1';
const LONG_CLOCK_MS = 45 * 24 * HOUR_MS;

export function generateSequence(seed: number): Sequence {
  const p = new Prng(seed);
  const combination = p.weighted(COMBINATIONS);
  // Drawn from a stream of its own: a seed that does not get EXPIRE 0 keeps the sequence it
  // had before EXPIRE 0 was modelled (the regression seeds among them).
  const expiring = combination.every((name) => COMPOSES_WITH_EXPIRE_ZERO.has(name)) && p.fork('EXPIRE 0').chance(EXPIRE_ZERO_SHARE);
  const picked: readonly ProfileName[] = expiring ? [...combination, 'expire-zero'] : combination;
  // Review: MODEL_PROFILES=a+b|c+d forces one of these combinations (the case printed replays as is).
  const forced = process.env.MODEL_PROFILES?.split('|').map((c) => c.split('+').filter(Boolean) as never[]);
  const profiles = forced ? forced[seed % forced.length]! : picked;
  const config: SequenceConfig = {
    seed,
    profiles,
    perSession: p.int(1, 3),
    retention: p.weighted([
      [3, 'keep'],
      [4, 'delete'],
      [3, 'after-days'],
    ] as const),
    pipelining: p.chance(0.7),
    maxMessageBytes: MAX_MESSAGE_BYTES,
    maxAttempts: { s3: p.int(1, 2), dynamodb: p.int(1, 2) },
  };
  return { config, steps: new StepGenerator(p.fork('steps'), config).generate() };
}

class StepGenerator {
  private readonly steps: Step[] = [];
  private readonly arrivals: { no: number; mail: MailSpec }[] = [];
  private readonly gone = new Set<number>();
  private lastDeleted: MailSpec | undefined;
  private seq = 0;
  private runs = 0;

  constructor(
    private readonly p: Prng,
    private readonly config: SequenceConfig,
  ) {}

  generate(): Step[] {
    const p = this.p;
    for (let i = p.int(1, 4); i > 0; i--) this.arrive();
    for (let i = p.int(5, 14); i > 0 || this.runs < 2; i--) {
      p.weighted<() => void>([
        [30, () => this.arrive()],
        [WIDEN ? 15 : 9, () => this.otherClient('delete')],
        [2, () => this.otherClient('hide')],
        [35, () => this.run()],
        [6, () => this.steps.push({ kind: 'clock', advanceMs: p.pick(LONG_CLOCK ? [2 * HOUR_MS, 26 * HOUR_MS, LONG_CLOCK_MS] : [2 * HOUR_MS, 26 * HOUR_MS]) })],
      ])();
    }
    return this.steps;
  }

  private has(profile: string): boolean {
    return this.config.profiles.includes(profile as never);
  }

  private arrive(): void {
    const p = this.p;
    const earlier = this.arrivals.length > 0 ? p.pick(this.arrivals).mail : undefined;
    const mail = p.weighted<() => MailSpec>([
      [70, () => this.newMail()],
      [earlier ? 8 : 0, () => earlier!],
      [earlier ? (WIDEN ? 25 : 10) : 0, () => this.twin(earlier!) ?? this.newMail()],
      [this.lastDeleted ? 12 : 0, () => ({ ...this.newMail(), size: this.lastDeleted!.size })],
      // Gmail never makes the worker skip mail (its own size limit, CRLF on the wire);
      // a skipped message keeps its place at the head of every Gmail listing.
      [this.has('gmail') ? 0 : 5, () => ({ ...this.newMail(), size: this.config.maxMessageBytes + p.int(100, 500) })],
    ])();
    const no = this.arrivals.length + 1;
    this.arrivals.push({ no, mail });
    const both = this.has('shared-uidl') && this.has('recycled-uidl');
    this.steps.push({ kind: 'arrive', no, mail, ...(both ? { uidFrom: p.pick(['shared-uidl', 'recycled-uidl'] as const) } : {}) });
  }

  private newMail(): MailSpec {
    const p = this.p;
    const flavor = p.weighted<MailFlavor>([
      [5, 'plain'],
      [2, 'dots'],
      [1, 'bare-lf'],
      [this.has('bare-lf') ? 2 : 0.5, 'bare-lf-dot'],
      [this.has('bare-lf') ? 1 : 0.3, 'bare-lf-dot-late'],
      [this.has('bare-lf') ? 1 : 0.3, 'bare-lf-dot-text'],
      [1, 'eight-bit'],
    ]);
    return { seq: ++this.seq, topic: p.int(0, TOPICS - 1), size: p.pick(SIZES), flavor, body: p.int(0, 99) };
  }

  /** The same header block with another body, of a size no message with that header block has. */
  private twin(of: MailSpec): MailSpec | undefined {
    const taken = new Set(this.arrivals.filter((a) => a.mail.seq === of.seq).map((a) => a.mail.size));
    const free = WIDEN && this.p.chance(0.5) ? [...SIZES] : SIZES.filter((s) => !taken.has(s));
    if (free.length === 0) return undefined;
    return { ...of, size: this.p.pick(free), body: (of.body + this.p.int(1, 98)) % 100, flavor: this.p.pick(['plain', 'dots'] as const) };
  }

  private otherClient(kind: 'delete' | 'hide'): void {
    const candidates = this.arrivals.filter((a) => !this.gone.has(a.no));
    if (candidates.length === 0) return this.arrive();
    const victim = this.p.pick(candidates);
    this.gone.add(victim.no);
    if (kind === 'delete') this.lastDeleted = victim.mail;
    this.steps.push({ kind, no: victim.no });
  }

  private run(): void {
    const p = this.p;
    this.runs++;
    const count = p.weighted([
      [3, 0],
      [6, 1],
      [1, 2],
    ] as const);
    const faults = Array.from({ length: count }, () => this.fault());
    const advanceMs = p.weighted([
      [17, 5 * MINUTE_MS],
      [2, 30 * SECOND_MS],
      [1, 2 * MINUTE_MS],
    ] as const);
    this.steps.push({ kind: 'run', advanceMs, faults });
  }

  private fault(): Fault {
    const p = this.p;
    return p.weighted<() => Fault>([
      [4, () => {
        const service = p.chance(0.4) ? 's3' : 'dynamodb';
        return { kind: 'aws', service, nth: service === 's3' ? p.int(1, 4) : p.int(1, 14), when: p.chance(0.5) ? 'before' : 'after' };
      }],
      [4, () => {
        const verb = p.weighted([
          [30, 'RETR'],
          [10, 'DELE'],
          [12, 'QUIT'],
          [8, 'UIDL'],
          [6, 'LIST'],
          [8, 'TOP'],
          [3, 'PASS'],
          [3, 'CAPA'],
        ] as const);
        const partial = verb === 'RETR' && p.chance(0.5) ? { partial: p.int(0, 400) } : {};
        return { kind: 'cut', verb, nth: p.int(1, verb === 'RETR' ? 4 : 2), ...partial };
      }],
      [WIDEN ? 6 : 3, () => ({ kind: 'crash', point: this.crashPoint() })],
      [2, () => ({ kind: 'lost-quit-ok', nth: p.int(1, 2) })],
    ])();
  }

  private crashPoint(): CrashPoint {
    const p = this.p;
    return p.weighted<() => CrashPoint>([
      [3, () => ({ at: 'after-store', n: p.int(1, 3) })],
      [3, () => ({ at: 'after-record', n: p.int(1, 3) })],
      [2, () => ({ at: 'mid-retr', n: p.int(1, 3), afterOctets: p.int(1, 200) })],
      [2, () => ({ at: 'before-quit' })],
    ])();
  }
}
