/**
 * Reads typed values from the CDK context, collecting every problem. `-c key=value`
 * arrives as a string, cdk.json values as JSON: both are accepted.
 */
import type { App } from 'aws-cdk-lib';

export class ContextReader {
  readonly problems: string[] = [];

  constructor(private readonly app: App) {}

  raw(key: string): unknown {
    return this.app.node.tryGetContext(key) as unknown;
  }

  /** A string matching `pattern`, or undefined when the key is absent. */
  string(key: string, pattern: RegExp, expected: string): string | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === 'string' && pattern.test(value)) return value;
    this.problems.push(`context ${key}: must be ${expected}`);
    return undefined;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key) ?? fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    this.problems.push(`context ${key}: must be true or false`);
    return fallback;
  }

  /** A whole number (a JSON number or a string of digits); its range is the construct's to check. */
  integer(key: string, expected: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
    if (typeof n === 'number' && Number.isSafeInteger(n)) return n;
    this.problems.push(`context ${key}: must be ${expected}`);
    return undefined;
  }

  /** A JSON array of strings, or one comma-separated string. */
  list(key: string): string[] | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value === 'string') return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
    this.problems.push(`context ${key}: must be a list of strings (JSON array, or comma-separated)`);
    return undefined;
  }
}
