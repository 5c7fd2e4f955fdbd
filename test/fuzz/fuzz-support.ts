/**
 * Shared pieces of the fuzz suites: run counts and seeds from the environment, byte
 * arbitraries biased towards what matters to a POP3 parser (line ends, dots, blanks,
 * 8-bit bytes), a mutator for valid server output, and random chunking.
 *
 * Environment:
 * - FUZZ_RUNS: multiplier for every property's run count (default 1; `npm run test:fuzz` uses more).
 * - FUZZ_SEED: replay a failure (fast-check prints the seed and path of a counterexample).
 */
import fc from 'fast-check';

const multiplier = Math.max(1, Number(process.env.FUZZ_RUNS ?? '1') || 1);
const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

/** fast-check parameters: `base` runs at the default size, scaled by FUZZ_RUNS. */
export function fuzzParams(base: number): fc.Parameters<unknown> {
  return {
    numRuns: Math.round(base * multiplier),
    ...(seed === undefined || !Number.isFinite(seed) ? {} : { seed }),
  };
}

export const FUZZ_MULTIPLIER = multiplier;

/** Bytes a POP3 parser treats specially, and a few that trip regular expressions (0xA0, VT, FF). */
const SPECIAL = [0x0d, 0x0a, 0x2e, 0x20, 0x09, 0x00, 0x0b, 0x0c, 0x85, 0xa0, 0xff, 0x2b, 0x2d, 0x5b, 0x5d, 0x30, 0x39];

export const interestingByte = (): fc.Arbitrary<number> =>
  fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 0, max: 255 }) }, { weight: 2, arbitrary: fc.constantFrom(...SPECIAL) });

export const bytes = (maxLength = 64): fc.Arbitrary<Buffer> =>
  fc.array(interestingByte(), { maxLength }).map((a) => Buffer.from(a));

const TOKENS = ['+OK', '-ERR', '+', '.', '..', '\r\n', '\n', '\r', '.\r\n', '\r\n.\r\n', ' ', '\t', '[', ']', '[IN-USE]', '[SYS/TEMP]', '0', '1', '4294967295', '99999999999'].map((s) =>
  Buffer.from(s, 'latin1'),
);

/** Random bytes built from protocol tokens and noise: reaches deep parser states more often than uniform bytes. */
export const tokenSoup = (maxParts = 24): fc.Arbitrary<Buffer> =>
  fc.array(fc.oneof(fc.constantFrom(...TOKENS), bytes(12)), { maxLength: maxParts }).map((parts) => Buffer.concat(parts));

type Mutation =
  | { op: 'flip'; at: number; value: number }
  | { op: 'insert'; at: number; data: Buffer }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'lf'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), value: interestingByte() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), data: fc.oneof(fc.constantFrom(...TOKENS), bytes(8)) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 32 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('lf' as const), at: fc.nat() }),
);

function applyMutation(input: Buffer, m: Mutation): Buffer {
  const at = input.length === 0 ? 0 : m.at % (input.length + 1);
  switch (m.op) {
    case 'flip':
      if (input.length === 0) return Buffer.from([m.value]);
      return Buffer.concat([input.subarray(0, at % input.length), Buffer.from([m.value]), input.subarray((at % input.length) + 1)]);
    case 'insert':
      return Buffer.concat([input.subarray(0, at), m.data, input.subarray(at)]);
    case 'delete':
      return Buffer.concat([input.subarray(0, at), input.subarray(at + m.length)]);
    case 'duplicate':
      return Buffer.concat([input.subarray(0, at + m.length), input.subarray(at)]);
    case 'truncate':
      return input.subarray(0, at);
    case 'lf': {
      // CRLF -> LF (or LF -> CRLF) at the first line end from `at`: sloppy servers.
      const k = input.indexOf(0x0a, at);
      if (k === -1) return input;
      if (k > 0 && input[k - 1] === 0x0d) return Buffer.concat([input.subarray(0, k - 1), input.subarray(k)]);
      return Buffer.concat([input.subarray(0, k), Buffer.from([0x0d]), input.subarray(k)]);
    }
  }
}

/** `valid` with 0..maxMutations random mutations (0 keeps it valid, so valid input stays covered). */
export function mutated(valid: fc.Arbitrary<Buffer>, maxMutations = 4): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(mutation, { maxLength: maxMutations })).map(([v, ms]) => ms.reduce(applyMutation, v));
}

/** Splits `data` into chunks whose sizes cycle through `sizes` (each >= 1). */
export function chunk(data: Buffer, sizes: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let i = 0;
  for (let k = 0; i < data.length; k++) {
    const size = sizes[k % sizes.length]!;
    out.push(data.subarray(i, i + size));
    i += size;
  }
  return out;
}

export const chunkSizes = (max = 17): fc.Arbitrary<number[]> => fc.array(fc.integer({ min: 1, max }), { minLength: 1, maxLength: 8 });
