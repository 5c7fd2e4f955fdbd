import { ConfigError } from './config-error';

/** Collects problems; the same text twice (a bad default seen by every mailbox) is kept once. */
export class Problems {
  private readonly list: string[] = [];

  add(path: string, message: string): void {
    const problem = `${path}: ${message}`;
    if (!this.list.includes(problem)) this.list.push(problem);
  }

  get count(): number {
    return this.list.length;
  }

  /** Every problem so far, as `<field path>: <what is wrong>`. */
  get all(): readonly string[] {
    return [...this.list];
  }

  /**
   * `value` when nothing was wrong.
   * @param source where the configuration came from, for the message
   * @throws ConfigError listing every problem found
   */
  valueOrThrow<T>(value: T | undefined, source?: string): T {
    if (this.list.length > 0 || value === undefined) throw new ConfigError(this.list, { source });
    return value;
  }
}
