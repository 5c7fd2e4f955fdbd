/**
 * Where a JSON text is broken, for a message that names line and column without quoting
 * the text around it (a misplaced secret must not reach logs).
 */

/** `invalid JSON at line 3, column 12: unexpected "}"`, found by our own scan of the text. */
export function describeJsonSyntaxError(text: string): string {
  const offset = jsonErrorOffset(text);
  if (offset === undefined) return 'invalid JSON';
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  const found = offset >= text.length ? 'end of file' : describeChar(text[offset]!);
  return `invalid JSON at line ${line}, column ${column}: unexpected ${found}`;
}

function describeChar(c: string): string {
  return /^[\x21-\x7e]$/.test(c) ? `"${c}"` : `character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
}

class JsonStop {
  constructor(readonly offset: number) {}
}

/**
 * Offset of the first syntax error in `text` (RFC 8259), or undefined when it is valid.
 * JSON.parse on Node 20 often reports no position at all, so the position is found here.
 */
function jsonErrorOffset(text: string): number | undefined {
  // RFC 8259 forbids raw control characters in strings; the class has to name them.
  // eslint-disable-next-line no-control-regex
  const stringBody = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*/y;
  const scalar = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.])|(?:true|false|null)(?!\w)/y;
  let i = 0;
  const fail = (): never => {
    throw new JsonStop(i);
  };
  const skipSpace = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i]!)) i++;
  };
  const expect = (c: string): void => {
    skipSpace();
    if (text[i] !== c) fail();
    i++;
  };
  const string = (): void => {
    skipSpace();
    if (text[i] !== '"') fail();
    stringBody.lastIndex = i;
    stringBody.test(text);
    i = stringBody.lastIndex;
    // No whitespace skipping here: a raw tab inside a string is the error itself.
    if (text[i] !== '"') fail();
    i++;
  };
  const sequence = (close: string, item: () => void): void => {
    skipSpace();
    if (text[i] === close) {
      i++;
      return;
    }
    for (;;) {
      item();
      skipSpace();
      if (text[i] === close) break;
      expect(',');
    }
    i++;
  };
  const value = (): void => {
    skipSpace();
    if (text[i] === '{') {
      i++;
      sequence('}', () => {
        string();
        expect(':');
        value();
      });
    } else if (text[i] === '[') {
      i++;
      sequence(']', value);
    } else if (text[i] === '"') {
      string();
    } else {
      scalar.lastIndex = i;
      if (!scalar.test(text)) fail();
      i = scalar.lastIndex;
    }
  };
  try {
    value();
    skipSpace();
    if (i < text.length) fail();
    return undefined;
  } catch (err) {
    if (err instanceof JsonStop) return err.offset;
    return undefined; // e.g. nesting too deep for the stack: report without a position
  }
}
