// The fake server's maildrop and its ground truth. `messages` (the array tests have always
// read and spliced) stays the maildrop itself; every message object seen in it gets a
// record with a stable id, and records remember how each message left. Messages a test
// pushes into or splices out of `messages` directly are noticed at the next sync.
import type { FakeGroundTruth, FakeHiding, FakeMailRecord, FakeMessage, FakeRemoval } from './fake-pop3-types';

/** Prefix of the UIDLs the server makes up when neither the caller nor a profile gives one. */
const DEFAULT_UID_PREFIX = 'fake-';

class MailRecord implements FakeMailRecord {
  removed: FakeRemoval | undefined;
  hidden: FakeHiding | undefined;

  constructor(
    readonly id: number,
    readonly message: FakeMessage,
    readonly deliveredAt: number,
  ) {}

  // Read through, so a test that edits its message object edits the truth too.
  get uid(): string {
    return this.message.uid;
  }

  get bytes(): Buffer {
    return this.message.bytes;
  }
}

export class Maildrop implements FakeGroundTruth {
  private readonly records: MailRecord[] = [];
  private readonly byMessage = new Map<FakeMessage, MailRecord>();
  private readonly present = new Set<MailRecord>();

  constructor(
    /** the live maildrop: `server.messages` */
    readonly messages: FakeMessage[],
    private readonly now: () => number,
  ) {
    this.sync();
  }

  /** The id the next delivery will get. */
  get nextId(): number {
    return this.records.length + 1;
  }

  defaultUid(): string {
    const taken = new Set(this.messages.map((m) => m.uid));
    let n = this.nextId;
    while (taken.has(`${DEFAULT_UID_PREFIX}${n}`)) n++;
    return `${DEFAULT_UID_PREFIX}${n}`;
  }

  add(message: FakeMessage, at: number = this.now()): MailRecord {
    this.sync();
    this.messages.push(message);
    return this.register(message, at);
  }

  /** Brings the records in line with `messages` after direct edits by a test. */
  sync(): void {
    const inDrop = new Set(this.messages);
    const at = this.now();
    for (const record of this.present) {
      if (!inDrop.has(record.message)) this.markRemoved(record, { by: 'external', at });
    }
    for (const message of this.messages) {
      const known = this.byMessage.get(message);
      // A removed message's object put back is new mail that happens to share the object.
      if (!known || known.removed) this.register(message, at);
    }
  }

  /** Takes `records` out of the maildrop for good. */
  remove(records: readonly FakeMailRecord[], removal: FakeRemoval): void {
    const gone = new Set(records.map((r) => r.message));
    const kept = this.messages.filter((m) => !gone.has(m));
    // In place, so a reference the test holds to `messages` stays current.
    this.messages.splice(0, this.messages.length, ...kept);
    for (const r of records) this.markRemoved(this.own(r), removal);
  }

  hide(records: readonly FakeMailRecord[], hiding: FakeHiding): void {
    for (const r of records) this.own(r).hidden ??= hiding;
  }

  all(): readonly FakeMailRecord[] {
    this.sync();
    return [...this.records];
  }

  get(id: number): FakeMailRecord | undefined {
    this.sync();
    return this.records[id - 1];
  }

  of(message: FakeMessage): FakeMailRecord | undefined {
    const known = this.byMessage.get(message);
    if (known && !known.removed) return known;
    this.sync();
    return this.byMessage.get(message);
  }

  onServer(): readonly FakeMailRecord[] {
    return this.all().filter((r) => !r.removed);
  }

  visible(): readonly FakeMailRecord[] {
    return this.all().filter((r) => !r.removed && !r.hidden);
  }

  removed(): readonly FakeMailRecord[] {
    return this.all().filter((r) => r.removed);
  }

  hidden(): readonly FakeMailRecord[] {
    return this.all().filter((r) => !r.removed && r.hidden);
  }

  left(): readonly FakeMailRecord[] {
    return this.all().filter((r) => r.removed || r.hidden);
  }

  private register(message: FakeMessage, at: number): MailRecord {
    const record = new MailRecord(this.nextId, message, at);
    this.records.push(record);
    this.byMessage.set(message, record);
    this.present.add(record);
    return record;
  }

  private markRemoved(record: MailRecord, removal: FakeRemoval): void {
    if (record.removed) return;
    record.removed = removal;
    this.present.delete(record);
  }

  private own(record: FakeMailRecord): MailRecord {
    const mine = this.records[record.id - 1];
    if (mine !== record) throw new Error(`fake POP3: message record ${record.id} belongs to another server`);
    return mine;
  }
}
