/**
 * The ids of a listing, kept where they were received: an append-only list of byte slices
 * of the reply's chunks with an open-addressing hash index over them. A million ids cost
 * ten bytes each (which chunk, where, how long) and a slot table; no copy of their bytes,
 * no JS string or object per id. Ids equal to an earlier one are found in O(1) each.
 *
 * The chunks must not change while the index is in use: received chunks never do (each
 * socket read is a buffer of its own, and the line splitter only ever makes new ones).
 *
 * The hash is seeded per index, and the probes of all lookups together are budgeted: ids
 * crafted to collide (a hostile server) would make linear probing quadratic, so past the
 * budget the index moves to a Map keyed by strings (V8's seeded string hash), which costs
 * what a Map costs and never more.
 */

/** Ids an index has room for before it first grows. */
const INITIAL_IDS = 64;
/** Slots per indexed id at most (a load factor of 1/2 keeps probe runs short). */
const MAX_LOAD = 0.5;
/**
 * Probes of insertions allowed per id, on average over the life of the index, plus a fixed allowance.
 * A sound hash at load 1/2 needs about 1.5 (hit) to 2.5 (miss) probes per lookup: only
 * colliding ids exceed this.
 */
const PROBES_PER_ID = 8;
const PROBES_ALLOWANCE = 4096;

/** A 32-bit hash of `bytes[start, end)`, varied by `seed`. */
export type ByteHash = (bytes: Uint8Array, start: number, end: number, seed: number) => number;

/** FNV-1a over the bytes, started from the seed, then mixed (murmur3's finaliser) so that every bit depends on every byte. */
export const seededFnv1a: ByteHash = (bytes, start, end, seed) => {
  let h = (0x811c9dc5 ^ seed) | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
};

/** An id longer than this does not fit the index's length column (listings cap ids far below it). */
export const MAX_ID_INDEX_OCTETS = 0xffff;

export class IdIndex {
  /** The buffers ids lie in, each once (consecutive ids usually share a chunk). */
  private readonly buffers: Buffer[] = [];
  /** Id i is buffers[bufferOf[i]][starts[i], starts[i] + lengths[i]). */
  private bufferOf = new Uint32Array(INITIAL_IDS);
  private starts = new Uint32Array(INITIAL_IDS);
  private lengths = new Uint16Array(INITIAL_IDS);
  /**
   * Open addressing, linear probing, two numbers a slot: the index + 1 of the first id of
   * each distinct value (0: empty) and its hash, side by side so that a probe reads one
   * cache line and compares bytes only when the hashes are equal.
   */
  private slots: Int32Array | undefined;
  /** Replaces `slots` once the probe budget is spent: string -> index of its first id. */
  private byString: Map<string, number> | undefined;
  /** Index -> index of the first equal id, for ids equal to an earlier one only (they are rare). */
  private readonly repeats = new Map<number, number>();
  private count = 0;
  /** Ids below this are in the table (or the Map); ids are indexed in bulk when asked about. */
  private indexed = 0;
  private probes = 0;
  private readonly seed = crypto.getRandomValues(new Uint32Array(1))[0]!;

  /** @param hash the hash function. @default seededFnv1a (tests pass a weak one to reach the fallback) */
  constructor(private readonly hash: ByteHash = seededFnv1a) {}

  /** Ids held, repeated ones included. */
  get length(): number {
    return this.count;
  }

  /** Distinct ids held. */
  get distinctCount(): number {
    this.indexPending();
    return this.count - this.repeats.size;
  }

  /** True once colliding ids spent the probe budget and a Map does the lookups. */
  get degraded(): boolean {
    return this.byString !== undefined;
  }

  /**
   * Appends `src[start, end)` as id number `length`, by reference: `src` must not change
   * afterwards. It is indexed when the index is next asked about.
   */
  add(src: Buffer, start: number, end: number): void {
    if (end - start > MAX_ID_INDEX_OCTETS || start < 0 || end > src.length) throw new RangeError(`id [${start}, ${end}) does not fit the index`);
    const i = this.count;
    if (i === this.starts.length) this.growIds();
    let b = this.buffers.length - 1;
    if (b === -1 || this.buffers[b] !== src) b = this.buffers.push(src) - 1;
    this.bufferOf[i] = b;
    this.starts[i] = start;
    this.lengths[i] = end - start;
    this.count = i + 1;
  }

  /** The index of the first id equal to id `i` (`i` itself when no earlier id is). */
  firstOf(i: number): number {
    this.indexPending();
    return this.repeats.get(i) ?? i;
  }

  /** The index of the first id equal to `src[start, end)`, or -1. */
  find(src: Uint8Array, start = 0, end = src.length): number {
    this.indexPending();
    if (this.byString) return this.byString.get(Buffer.from(src.buffer, src.byteOffset + start, end - start).toString('latin1')) ?? -1;
    return this.probe(src, start, end, this.hash(src, start, end, this.seed), 0);
  }

  /** Id `i` as a string, one character per byte (latin1). */
  stringAt(i: number): string {
    const start = this.starts[i]!;
    return this.buffers[this.bufferOf[i]!]!.toString('latin1', start, start + this.lengths[i]!);
  }

  /** Puts the ids added since the last call in the index, the table first sized for all of them. */
  private indexPending(): void {
    if (this.indexed === this.count) return;
    if (!this.byString) this.reserveSlots(this.count);
    for (let i = this.indexed; i < this.count; i++) {
      const first = this.byString ? this.firstByString(i) : this.insert(i);
      if (first !== -1) this.repeats.set(i, first);
      if (!this.byString && this.probes > PROBES_PER_ID * (i + 1) + PROBES_ALLOWANCE) this.degrade(i + 1);
    }
    this.indexed = this.count;
  }

  /** Puts id `i` in the table. @returns the index of the equal id already there, or -1 */
  private insert(i: number): number {
    const src = this.buffers[this.bufferOf[i]!]!;
    const start = this.starts[i]!;
    const end = start + this.lengths[i]!;
    return this.probe(src, start, end, this.hash(src, start, end, this.seed), i + 1);
  }

  /**
   * Looks `src[start, end)` up. When absent and `insert` (an index + 1) is not 0, the free
   * slot reached takes it.
   * @returns the index of the equal id found, or -1
   */
  private probe(src: Uint8Array, start: number, end: number, h: number, insert: number): number {
    const slots = this.slots!;
    const mask = slots.length - 2;
    const hash = h | 0;
    for (let at = (h << 1) & mask; ; at = (at + 2) & mask) {
      if (insert !== 0) this.probes++;
      const held = slots[at]!;
      if (held === 0) {
        if (insert !== 0) {
          slots[at] = insert;
          slots[at + 1] = hash;
        }
        return -1;
      }
      if (slots[at + 1] === hash && this.equals(held - 1, src, start, end)) return held - 1;
    }
  }

  private equals(i: number, src: Uint8Array, start: number, end: number): boolean {
    const length = end - start;
    if (this.lengths[i] !== length) return false;
    const bytes = this.buffers[this.bufferOf[i]!]!;
    const from = this.starts[i]!;
    for (let k = 0; k < length; k++) if (bytes[from + k] !== src[start + k]) return false;
    return true;
  }

  private growIds(): void {
    const size = this.starts.length * 2;
    const bufferOf = new Uint32Array(size);
    bufferOf.set(this.bufferOf);
    this.bufferOf = bufferOf;
    const starts = new Uint32Array(size);
    starts.set(this.starts);
    this.starts = starts;
    const lengths = new Uint16Array(size);
    lengths.set(this.lengths);
    this.lengths = lengths;
  }

  /** Slots for `ids` distinct ids within the load factor: made, or grown (every indexed id placed again). */
  private reserveSlots(ids: number): void {
    let size = (this.slots?.length ?? (2 * INITIAL_IDS) / MAX_LOAD) / 2;
    while (size * MAX_LOAD < ids) size *= 2;
    if (this.slots?.length === 2 * size) return;
    const old = this.slots ?? new Int32Array(0);
    this.slots = new Int32Array(2 * size);
    for (let at = 0; at < old.length; at += 2) if (old[at] !== 0) this.insert(old[at]! - 1);
  }

  /** Colliding ids spent the probe budget: the first `upTo` ids go into a Map, and so does every later one. */
  private degrade(upTo: number): void {
    const byString = new Map<string, number>();
    for (let i = 0; i < upTo; i++) {
      const id = this.stringAt(i);
      if (!byString.has(id)) byString.set(id, i);
    }
    this.byString = byString;
    this.slots = undefined;
  }

  private firstByString(i: number): number {
    const id = this.stringAt(i);
    const first = this.byString!.get(id);
    if (first !== undefined) return first;
    this.byString!.set(id, i);
    return -1;
  }
}
