/**
 * Fuzzing the multi-line decoder with random and mutated bodies under random chunking:
 * it never throws, never emits more than it was given, decides the same whatever the
 * chunking, agrees with a line-by-line reference model of RFC 1939 framing (and of when the
 * terminator is ambiguous), and hands back exactly the bytes after the terminator.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DotDecoder, encodeMultiline } from '../../lambda/pop3/dot-decoder';
import { bytes, chunk, chunkSizes, fuzzParams, mutated, tokenSoup } from './fuzz-support';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

interface Decoded {
  output: Buffer;
  done: boolean;
  rest: Buffer;
}

/** Feeds `chunks` until the decoder is done; what follows the terminator (in and after its chunk) is `rest`. */
function decodeChunks(chunks: readonly Buffer[]): Decoded & { fedOctets: number; maxOutputOverInput: number; ambiguous: boolean } {
  const decoder = new DotDecoder();
  const out: Buffer[] = [];
  const rest: Buffer[] = [];
  let fed = 0;
  let emitted = 0;
  let maxOver = 0;
  for (const c of chunks) {
    if (decoder.done) {
      rest.push(c);
      continue;
    }
    const r = decoder.decode(c);
    fed += c.length;
    for (const o of r.output) {
      out.push(Buffer.from(o));
      emitted += o.length;
    }
    maxOver = Math.max(maxOver, emitted - fed);
    expect(r.done).toBe(decoder.done);
    if (r.done && r.rest) rest.push(r.rest);
    if (!r.done) expect(r.rest).toBeUndefined();
  }
  return { output: Buffer.concat(out), done: decoder.done, rest: Buffer.concat(rest), fedOctets: fed, maxOutputOverInput: maxOver, ambiguous: decoder.terminatorAmbiguous };
}

/**
 * Reference model, line by line: a line starts at the beginning or after LF; "." + LF or
 * "." + CRLF at a line start is the terminator; any other line-initial dot is removed,
 * except after a bare LF, where only a doubled dot is stuffing (a single one is content).
 * At the end of unterminated input a line-initial "." (or ".\r") is still undecided and
 * not emitted.
 */
function reference(input: Buffer): Decoded & { ambiguous: boolean } {
  const out: number[] = [];
  let i = 0;
  while (i < input.length) {
    // At a line start. A ".\r\n" terminator right after a bare LF is ambiguous (a CRLF-only
    // server sends an unstuffed "." line that way); ".\n", or any after CRLF, is not.
    if (input[i] === DOT) {
      const afterBareLf = i > 0 && input[i - 1] === LF && input[i - 2] !== CR;
      if (input[i + 1] === LF) return { output: Buffer.from(out), done: true, rest: input.subarray(i + 2), ambiguous: false };
      if (input[i + 1] === CR && input[i + 2] === LF) return { output: Buffer.from(out), done: true, rest: input.subarray(i + 3), ambiguous: afterBareLf };
      if (i + 1 >= input.length) break; // "." at the very end: undecided
      if (input[i + 1] === CR && i + 2 >= input.length) break; // ".\r" at the very end: undecided
      if (!afterBareLf || input[i + 1] === DOT) i++; // stuffed dot
    }
    const nl = input.indexOf(LF, i);
    const end = nl === -1 ? input.length : nl + 1;
    for (let k = i; k < end; k++) out.push(input[k]!);
    i = end;
  }
  return { output: Buffer.from(out), done: false, rest: Buffer.alloc(0), ambiguous: false };
}

/** A message body as found in mailboxes: lines with dots, CRLF/LF/CR, 8-bit bytes. */
const message = fc
  .array(fc.oneof(fc.constantFrom(...['.', '..', '.\r', '\r\n', '\n', '\r', '\r\n.\r\n', 'From x\r\n', '\r\n..\r\n'].map((s) => Buffer.from(s, 'latin1'))), bytes(16)), {
    maxLength: 30,
  })
  .map((p) => Buffer.concat(p));

describe('fuzz: DotDecoder', () => {
  it('arbitrary bytes, any chunking: no throw, output <= input, same result as one chunk and as the reference model', () => {
    fc.assert(
      fc.property(fc.oneof(bytes(200), tokenSoup(40)), chunkSizes(), (input, sizes) => {
        const whole = decodeChunks([input]);
        const chunked = decodeChunks(chunk(input, sizes));
        const ref = reference(input);
        expect(chunked.maxOutputOverInput).toBeLessThanOrEqual(0);
        expect(chunked.output.length).toBeLessThanOrEqual(chunked.fedOctets);
        expect(chunked.done).toBe(ref.done);
        expect(chunked.output.equals(ref.output)).toBe(true);
        expect(chunked.rest.equals(ref.rest)).toBe(true);
        expect(whole.done).toBe(ref.done);
        expect(whole.output.equals(ref.output)).toBe(true);
        expect(whole.rest.equals(ref.rest)).toBe(true);
        expect(chunked.ambiguous).toBe(ref.ambiguous);
        expect(whole.ambiguous).toBe(ref.ambiguous);
      }),
      fuzzParams(1500),
    );
  });

  it('valid replies: encode(message) + next reply, any chunking, gives the message back and the next reply intact', () => {
    fc.assert(
      fc.property(message, bytes(20), chunkSizes(23), (msg, next, sizes) => {
        const wire = Buffer.concat([encodeMultiline(msg), next]);
        const r = decodeChunks(chunk(wire, sizes));
        expect(r.done).toBe(true);
        // encodeMultiline adds CRLF to a message that does not end with LF, like servers do.
        const expected = msg.length > 0 && msg[msg.length - 1] !== LF ? Buffer.concat([msg, Buffer.from('\r\n')]) : msg;
        expect(r.output.equals(expected)).toBe(true);
        expect(r.rest.equals(next)).toBe(true);
      }),
      fuzzParams(1000),
    );
  });

  it('mutated valid replies: no throw, bounded output, chunking-independent, and agrees with the reference model', () => {
    fc.assert(
      fc.property(mutated(message.map((m) => Buffer.concat([encodeMultiline(m), Buffer.from('+OK next\r\n')])), 6), chunkSizes(), (wire, sizes) => {
        const r = decodeChunks(chunk(wire, sizes));
        const ref = reference(wire);
        expect(r.maxOutputOverInput).toBeLessThanOrEqual(0);
        expect(r.done).toBe(ref.done);
        expect(r.output.equals(ref.output)).toBe(true);
        expect(r.rest.equals(ref.rest)).toBe(true);
        expect(r.ambiguous).toBe(ref.ambiguous);
      }),
      fuzzParams(1500),
    );
  });

  it('empty chunks change nothing; decode() after the terminator is refused, never silently accepted', () => {
    fc.assert(
      fc.property(message, chunkSizes(), (msg, sizes) => {
        const parts = chunk(encodeMultiline(msg), sizes).flatMap((c) => [Buffer.alloc(0), c]);
        const d = new DotDecoder();
        let done = false;
        for (const p of parts) {
          if (done) break;
          done = d.decode(p).done;
        }
        expect(done).toBe(true);
        expect(() => d.decode(Buffer.from('x'))).toThrow(/after the terminator/);
      }),
      fuzzParams(300),
    );
  });
});
