import { B1, C12, D1, D2, PROHIBITED } from './saslprep-tables';

/**
 * SASLprep (RFC 4013), the stringprep profile SCRAM applies to user names and passwords
 * (RFC 5802 section 2.2, as a "query": unassigned code points are allowed):
 *
 * 1. map: non-ASCII spaces (C.1.2) to SPACE, and the B.1 characters to nothing;
 * 2. normalize with NFKC (JavaScript's Unicode version rather than 3.2: the same result for
 *    every character that Unicode 3.2 had);
 * 3. prohibit the C.1.2 to C.9 characters;
 * 4. check bidirectional text (RFC 3454 section 6): a string with a right-to-left character
 *    holds no left-to-right one, and starts and ends with a right-to-left character.
 *
 * @throws SaslPrepError, whose reason names the kind of problem, never the string
 */
export function saslPrep(input: string): string {
  let mapped = '';
  for (const ch of input) {
    const cp = ch.codePointAt(0)!;
    if (inTable(NON_ASCII_SPACE, cp)) mapped += ' ';
    else if (!inTable(MAPPED_TO_NOTHING, cp)) mapped += ch;
  }
  const normalized = mapped.normalize('NFKC');
  const codePoints = [...normalized].map((ch) => ch.codePointAt(0)!);
  const badIndex = codePoints.findIndex((cp) => inTable(NON_ASCII_SPACE, cp) || inTable(FORBIDDEN, cp));
  if (badIndex !== -1) throw new SaslPrepError('a prohibited character (a control, private-use, non-character or formatting code point)', codePoints[badIndex]!);
  if (codePoints.some((cp) => inTable(RIGHT_TO_LEFT, cp))) {
    if (codePoints.some((cp) => inTable(LEFT_TO_RIGHT, cp))) throw new SaslPrepError('right-to-left and left-to-right characters mixed');
    if (!inTable(RIGHT_TO_LEFT, codePoints[0]!) || !inTable(RIGHT_TO_LEFT, codePoints.at(-1)!)) {
      throw new SaslPrepError('right-to-left text that does not start and end with a right-to-left character');
    }
  }
  return normalized;
}

/** Input SASLprep refuses. `codePoint` is for a caller that may show it (a user name, never a password). */
export class SaslPrepError extends Error {
  override readonly name = 'SaslPrepError';

  constructor(
    readonly reason: string,
    readonly codePoint?: number,
  ) {
    super(`SASLprep (RFC 4013) refuses the string: ${reason}`);
  }
}

/** Code point ranges as [start0, end0, start1, end1, ...], sorted and merged. */
type Ranges = readonly number[];

function parseRanges(text: string): Ranges {
  const pairs = text
    .split(/\s+/)
    .filter(Boolean)
    .map((token) => {
      const [start = '', end = start] = token.split('-');
      return [parseInt(start, 16), parseInt(end, 16)] as const;
    })
    .sort((a, b) => a[0] - b[0]);
  const flat: number[] = [];
  for (const [start, end] of pairs) {
    if (flat.length > 0 && start <= flat[flat.length - 1]! + 1) flat[flat.length - 1] = Math.max(flat[flat.length - 1]!, end);
    else flat.push(start, end);
  }
  return flat;
}

/** Binary search over the ranges. */
function inTable(ranges: Ranges, cp: number): boolean {
  let lo = 0;
  let hi = ranges.length / 2 - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (cp < ranges[2 * mid]!) hi = mid - 1;
    else if (cp > ranges[2 * mid + 1]!) lo = mid + 1;
    else return true;
  }
  return false;
}

const MAPPED_TO_NOTHING = parseRanges(B1);
const NON_ASCII_SPACE = parseRanges(C12);
const FORBIDDEN = parseRanges(PROHIBITED);
const RIGHT_TO_LEFT = parseRanges(D1);
const LEFT_TO_RIGHT = parseRanges(D2);
