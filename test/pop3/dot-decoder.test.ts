import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DotDecoder, encodeMultiline } from '../../lambda/pop3/dot-decoder';

/** Feeds `wire` to a fresh decoder in the given chunk sizes; returns message, rest and whether it finished. */
function decodeInChunks(wire: Buffer, sizes: number[]): { message: Buffer; rest: Buffer; done: boolean } {
  const decoder = new DotDecoder();
  const out: Buffer[] = [];
  const rest: Buffer[] = [];
  let pos = 0;
  let k = 0;
  while (pos < wire.length) {
    const size = Math.max(1, sizes.length ? sizes[k++ % sizes.length]! : wire.length);
    const chunk = wire.subarray(pos, pos + size);
    pos += size;
    if (decoder.done) {
      rest.push(chunk);
      continue;
    }
    const r = decoder.decode(chunk);
    out.push(...r.output);
    if (r.done && r.rest) rest.push(r.rest);
  }
  return { message: Buffer.concat(out), rest: Buffer.concat(rest), done: decoder.done };
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function chunksOf(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0, k = 0; i < data.length; k++) {
    const size = sizes[k % sizes.length]!;
    out.push(data.subarray(i, i + size));
    i += size;
  }
  return out;
}

describe('DotDecoder', () => {
  it('removes one stuffed dot and stops at the terminator, keeping CRLF', () => {
    const r = decodeInChunks(b('Subject: x\r\n\r\n..hidden\r\n...two\r\nplain.\r\n.\r\nNEXT'), []);
    expect(r.message.toString('latin1')).toBe('Subject: x\r\n\r\n.hidden\r\n..two\r\nplain.\r\n');
    expect(r.rest.toString('latin1')).toBe('NEXT');
    expect(r.done).toBe(true);
  });

  it('decodes an empty message and a message that is a lone stuffed dot', () => {
    expect(decodeInChunks(b('.\r\n'), []).message.length).toBe(0);
    expect(decodeInChunks(b('..\r\n.\r\n'), []).message.toString('latin1')).toBe('.\r\n');
  });

  it('recognises the terminator split at every offset', () => {
    const wire = b('a\r\n..b\r\n.\r\n+OK next\r\n');
    for (let cut = 1; cut < wire.length; cut++) {
      const r = decodeInChunks(wire, [cut, wire.length]);
      expect(r.message.toString('latin1'), `cut at ${cut}`).toBe('a\r\n.b\r\n');
      expect(r.rest.toString('latin1'), `cut at ${cut}`).toBe('+OK next\r\n');
    }
  });

  it('handles one-byte chunks', () => {
    const r = decodeInChunks(b('..\r\n.x\r\n\r\n.\r\n'), [1]);
    expect(r.message.toString('latin1')).toBe('.\r\nx\r\n\r\n');
  });

  it('frames bare-LF servers and passes their LFs through unchanged', () => {
    const r = decodeInChunks(b('a\n..b\nc\n.\nREST'), [3]);
    expect(r.message.toString('latin1')).toBe('a\n.b\nc\n');
    expect(r.rest.toString('latin1')).toBe('REST');
  });

  it('keeps a bare CR after a stuffed dot (".\\rX" is a stuffed line, not a terminator)', () => {
    const r = decodeInChunks(b('.\rX\r\n.\r\n'), [1]);
    expect(r.message.toString('latin1')).toBe('\rX\r\n');
  });

  it('after a bare LF, drops only a doubled dot (stuffing at LF); a single one is content, at every chunking', () => {
    const cases: [string, string, number][] = [
      ['a\n.b\r\n.\r\n', 'a\n.b\r\n', 0], // a CRLF-only server's line ".b"
      ['a\n..b\r\n.\r\n', 'a\n.b\r\n', 1], // stuffed ".b", or a CRLF-only server's "..b": counted
      ['a\n.\rX\r\n.\r\n', 'a\n.\rX\r\n', 0],
      ['a\r\n.b\r\n.\r\n', 'a\r\nb\r\n', 0], // after CRLF, RFC 1939: the dot goes
      ['a\n.b\n.\n', 'a\n.b\n', 0], // an LF server (".\n" end): not counted either
    ];
    for (const [wire, message, counted] of cases) {
      for (const sizes of [[], [1], [2], [3]]) {
        const d = new DotDecoder();
        const out: Buffer[] = [];
        for (const part of sizes.length ? chunksOf(b(wire), sizes) : [b(wire)]) if (!d.done) out.push(...d.decode(part).output);
        const shown = `${JSON.stringify(wire)} in ${sizes.join(',') || 'one'} chunk(s)`;
        expect(Buffer.concat(out).toString('latin1'), shown).toBe(message);
        expect(d.dotsDroppedAfterBareLf, shown).toBe(counted);
      }
    }
  });

  it('is 8-bit clean', () => {
    const bytes = Buffer.from([0xff, 0x00, 0x80, 0x0d, 0x0a, 0x2e, 0x2e, 0xfe, 0x0d, 0x0a]);
    const r = decodeInChunks(Buffer.concat([bytes, b('.\r\n')]), [2]);
    expect([...r.message]).toEqual([0xff, 0x00, 0x80, 0x0d, 0x0a, 0x2e, 0xfe, 0x0d, 0x0a]);
  });

  it('reports a CRLF terminator right after a bare LF as ambiguous, at every chunking', () => {
    /** Feeds `wire` in the given sizes; whether the terminator was ambiguous. */
    const ambiguity = (wire: string, sizes: number[]): boolean => {
      const d = new DotDecoder();
      for (const part of sizes.length ? chunksOf(b(wire), sizes) : [b(wire)]) if (!d.done) d.decode(part);
      expect(d.done).toBe(true);
      return d.terminatorAmbiguous;
    };
    const cases: [string, boolean][] = [
      ['line one\n.\r\nline three\r\n.\r\n', true], // a "." line after a bare LF, unstuffed
      ['a\r\n.\r\n', false], // after CRLF
      ['a\n.\n', false], // an LF server, which stuffs at LF
      ['.\r\n', false], // the empty message
      ['\n.\r\n', true],
      ['a\r\n\n.\r\n', true],
      ['..\r\n.\r\n', false],
    ];
    for (const [wire, expected] of cases) {
      for (const sizes of [[], [1], [2], [3], [5]]) expect(ambiguity(wire, sizes), `${JSON.stringify(wire)} in ${sizes.join(',') || 'one'} chunk(s)`).toBe(expected);
    }
  });

  it('a clone continues independently from the same state', () => {
    const d = new DotDecoder();
    d.decode(b('a\n'));
    const probe = d.clone();
    expect(probe.decode(b('.\r\nREST')).rest?.toString('latin1')).toBe('REST');
    expect(probe.terminatorAmbiguous).toBe(true);
    expect(d.done).toBe(false);
    expect(d.decode(b('..x\r\n')).output.map((o) => o.toString('latin1')).join('')).toBe('.x\r\n');
  });

  it('does not finish on a message without terminator', () => {
    expect(decodeInChunks(b('a\r\nb\r\n'), [1]).done).toBe(false);
    expect(decodeInChunks(b('a\r\n.'), []).done).toBe(false);
    expect(decodeInChunks(b('a\r\n.\r'), []).done).toBe(false);
  });

  it('property: encode then decode is the identity for any bytes and any chunking', () => {
    // Messages as servers deliver them end with a line end (or are empty).
    const message = fc
      .array(fc.oneof(fc.constantFrom(b('.'), b('\r\n'), b('\n'), b('\r'), b('..'), b('\r\n.\r\n')), fc.uint8Array({ maxLength: 20 }).map((u) => Buffer.from(u))), { maxLength: 40 })
      .map((parts) => Buffer.concat([...parts, b('\r\n')]));
    fc.assert(
      fc.property(message, fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }), fc.uint8Array({ maxLength: 8 }), (msg, sizes, tail) => {
        const wire = Buffer.concat([encodeMultiline(msg), Buffer.from(tail)]);
        const r = decodeInChunks(wire, sizes);
        expect(r.done).toBe(true);
        expect(r.message.equals(msg)).toBe(true);
        expect(r.rest.equals(Buffer.from(tail))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('encodeMultiline', () => {
  it('stuffs lines that start with a dot and adds CRLF to an unterminated last line', () => {
    expect(encodeMultiline(b('.a\r\nb\r\n.\r\n')).toString('latin1')).toBe('..a\r\nb\r\n..\r\n.\r\n');
    expect(encodeMultiline(b('x')).toString('latin1')).toBe('x\r\n.\r\n');
  });
});
