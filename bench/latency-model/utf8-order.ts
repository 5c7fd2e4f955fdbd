/**
 * Code-point order of two strings, which is the order of their UTF-8 bytes: how S3 lists
 * keys and DynamoDB sorts string keys. Plain `<` compares UTF-16 code units, which differs
 * for characters above U+E000 against those outside the BMP.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate stands for a code point above U+FFFF: above any BMP character.
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
