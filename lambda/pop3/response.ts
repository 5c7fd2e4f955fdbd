import { Pop3Error, Pop3ErrorCode, sanitizeServerText } from './errors';

/** A parsed status line: `+OK text`, `-ERR [CODE] text`, or a SASL continuation `+ data`. */
export interface StatusLine {
  readonly kind: 'ok' | 'err' | 'continue';
  /** RFC 2449 response code (upper-cased, without brackets), e.g. `IN-USE`, `SYS/TEMP`. */
  readonly responseCode: string | undefined;
  /** The text after the status (and after the response code), latin1-decoded, untrusted. */
  readonly text: string;
  /** True when a secret of the session was removed from the line before it was parsed. */
  readonly scrubbed?: boolean;
  /**
   * A scrubbed SASL challenge ("+" line) as received: what the mechanism decodes (a short
   * password can turn up in random base64 by chance). Never traced, shown or put in an error.
   */
  readonly challengeText?: string;
}

const RESPONSE_CODE = /^\[([^\]\s]{1,64})\]\s*/;
/** After the keyword: "+OKAY" or "-ERR42" is another word, not a status. */
const WORD_CONTINUES = /^[A-Za-z0-9]/;

/**
 * Parses a status line. Status keywords are case-insensitive (RFC 1939); anything else at
 * the start of a reply is a protocol violation.
 *
 * The rule for what may follow the keyword: the end of the line, or any byte that is not
 * an ASCII letter or digit. RFC 1939 wants a space, but servers send "+OK." or "-ERR:" and
 * mpop and Python's poplib accept them; "+OKAY" stays malformed. The text is the rest of
 * the line with leading blanks removed (a punctuation separator stays part of it).
 */
export function parseStatusLine(line: Buffer): StatusLine {
  return plainOk(line) ?? parseAnyStatusLine(line);
}

const PLUS = 0x2b;
const LOWER_O = 0x6f;
const LOWER_K = 0x6b;
const CASE_BIT = 0x20;
const SPACE = 0x20;
const TAB = 0x09;
const OPEN_BRACKET = 0x5b;

/**
 * The usual reply, "+OK" and a text without a response code, parsed on its bytes (one
 * string per line); undefined for anything else, which {@link parseAnyStatusLine} parses.
 */
function plainOk(line: Buffer): StatusLine | undefined {
  if (line.length < 3 || line[0] !== PLUS || (line[1]! | CASE_BIT) !== LOWER_O || (line[2]! | CASE_BIT) !== LOWER_K) return undefined;
  let i = 3;
  if (i < line.length && isAsciiAlnum(line[i]!)) return undefined;
  while (i < line.length && (line[i] === SPACE || line[i] === TAB)) i++;
  if (line[i] === OPEN_BRACKET) return undefined;
  return { kind: 'ok', responseCode: undefined, text: line.toString('latin1', i) };
}

function isAsciiAlnum(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || ((b | CASE_BIT) >= 0x61 && (b | CASE_BIT) <= 0x7a);
}

function parseAnyStatusLine(line: Buffer): StatusLine {
  const s = line.toString('latin1');
  const head = s.slice(0, 4).toUpperCase();
  let kind: StatusLine['kind'];
  let rest: string;
  if (head.startsWith('+OK')) {
    kind = 'ok';
    rest = s.slice(3);
  } else if (head === '-ERR') {
    kind = 'err';
    rest = s.slice(4);
  } else if (s === '+' || s.startsWith('+ ')) {
    return { kind: 'continue', responseCode: undefined, text: s.slice(2) };
  } else {
    throw malformed(s);
  }
  if (WORD_CONTINUES.test(rest)) throw malformed(s);
  rest = rest.replace(/^[ \t]+/, '');
  const m = RESPONSE_CODE.exec(rest);
  if (m) return { kind, responseCode: m[1]!.toUpperCase(), text: rest.slice(m[0].length) };
  return { kind, responseCode: undefined, text: rest };
}

/** Octets of the status keyword that starts `line` ("+OK", "-ERR", or the "+" of a continuation), or 0. */
export function statusKeywordLength(line: Buffer): number {
  const head = line.subarray(0, 4).toString('latin1').toUpperCase();
  if (head.startsWith('+OK')) return 3;
  if (head === '-ERR') return 4;
  return head.startsWith('+') ? 1 : 0;
}

/** What a failed command was for: decides the error code when the server gives none. */
export type CommandPurpose = 'auth' | 'other';

/**
 * Turns an -ERR reply into a typed error. RFC 2449/3206 response codes win; without one,
 * an -ERR to a login command is taken as rejected credentials.
 */
export function errorFromReply(status: StatusLine, command: string, purpose: CommandPurpose): Pop3Error {
  const serverText = sanitizeServerText(status.text);
  const rc = status.responseCode;
  const code = codeFor(rc, purpose);
  const details = { command, serverText, ...(rc === undefined ? {} : { responseCode: rc }) };
  const shown = rc ? `[${rc}] ${serverText}` : serverText;
  return new Pop3Error(code, `${command} failed: -ERR ${shown}`.trimEnd(), details);
}

function codeFor(rc: string | undefined, purpose: CommandPurpose): Pop3ErrorCode {
  switch (rc) {
    case 'AUTH':
      return Pop3ErrorCode.AUTH_FAILED;
    case 'IN-USE':
      return Pop3ErrorCode.IN_USE;
    case 'LOGIN-DELAY':
      return Pop3ErrorCode.LOGIN_DELAY;
    case 'SYS/TEMP':
      return Pop3ErrorCode.SYS_TEMP;
    case 'SYS/PERM':
      return Pop3ErrorCode.SYS_PERM;
    default:
      return purpose === 'auth' ? Pop3ErrorCode.AUTH_FAILED : Pop3ErrorCode.SERVER_ERROR;
  }
}

function malformed(s: string): Pop3Error {
  return new Pop3Error(Pop3ErrorCode.PROTOCOL_ERROR, `the server sent a malformed status line: "${sanitizeServerText(s, 80)}"`, {
    serverText: sanitizeServerText(s),
  });
}
