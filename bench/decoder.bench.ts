/**
 * Micro-benchmark: the multi-line decoder against a plain copy of the same bytes in the
 * same chunks (the floor for any code that touches every chunk). Reported as a ratio, so
 * it means the same on a noisy shared machine.
 */
import { randomBytes } from 'node:crypto';
import { DotDecoder, encodeMultiline } from '../lambda/pop3/dot-decoder';

const MESSAGE_OCTETS = 32 * 1024 * 1024;
const CHUNK_OCTETS = 64 * 1024;
const ROUNDS = 21;

/** A text-like message: 76-octet lines, some starting with a dot (to exercise unstuffing). */
function corpus(): Buffer {
  const lines: Buffer[] = [];
  let size = 0;
  let i = 0;
  while (size < MESSAGE_OCTETS) {
    const line = Buffer.from(`${i % 50 === 0 ? '.' : ''}${randomBytes(38).toString('hex')}\r\n`, 'latin1');
    lines.push(line);
    size += line.length;
    i++;
  }
  return Buffer.concat(lines);
}

function chunks(wire: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < wire.length; p += CHUNK_OCTETS) out.push(wire.subarray(p, p + CHUNK_OCTETS));
  return out;
}

function timeMs(fn: () => number): { ms: number; check: number } {
  const t = process.hrtime.bigint();
  const check = fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, check };
}

/** What the engine does: hand out subarrays of the received chunks, no copy. */
function decodeAll(parts: Buffer[]): number {
  const d = new DotDecoder();
  let n = 0;
  for (const c of parts) for (const o of d.decode(c).output) n += o.length;
  return n;
}

/** Decode and copy every output segment (what an upload buffer does with them). */
function decodeAndCopyAll(parts: Buffer[]): number {
  const d = new DotDecoder();
  let n = 0;
  for (const c of parts) for (const o of d.decode(c).output) n += Buffer.from(o).length;
  return n;
}

function copyAll(parts: Buffer[]): number {
  let n = 0;
  for (const c of parts) n += Buffer.from(c).length;
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export interface DecoderBenchResult {
  decoderMBps: number;
  decodeCopyMBps: number;
  copyMBps: number;
  /** decoder time / plain copy time */
  ratio: number;
  /** decoder-plus-copy time / plain copy time */
  ratioWithCopy: number;
}

export function runDecoderBench(): DecoderBenchResult {
  const message = corpus();
  const parts = chunks(encodeMultiline(message));
  const dec: number[] = [];
  const decCopy: number[] = [];
  const cpy: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Interleaved, so machine noise hits all three alike.
    const a = timeMs(() => decodeAll(parts));
    const b = timeMs(() => copyAll(parts));
    const c = timeMs(() => decodeAndCopyAll(parts));
    if (a.check !== message.length || c.check !== message.length) throw new Error('decoder produced the wrong length');
    dec.push(a.ms);
    cpy.push(b.ms);
    decCopy.push(c.ms);
  }
  const mb = message.length / 1e6;
  const rate = (xs: number[]): number => mb / (median(xs) / 1000);
  return {
    decoderMBps: rate(dec),
    decodeCopyMBps: rate(decCopy),
    copyMBps: rate(cpy),
    ratio: median(dec) / median(cpy),
    ratioWithCopy: median(decCopy) / median(cpy),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = runDecoderBench();
  console.log(r);
}
