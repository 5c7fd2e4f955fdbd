/** Process exit codes of the command line. */
export const ExitCode = {
  /** Every selected mailbox ran without errors. */
  OK: 0,
  /** At least one mailbox failed or reported errors (details in the output). */
  MAILBOX_FAILED: 1,
  /** The command line or the configuration is wrong: nothing was attempted. */
  USAGE: 2,
  /** Interrupted by SIGINT (Ctrl-C), as shells report it (128 + 2): the run stopped early. */
  INTERRUPTED: 130,
  /** Interrupted by SIGTERM (128 + 15): the run stopped early. */
  TERMINATED: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A wrong command line: printed with the command's usage hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  /** The command whose usage applies, or undefined for the top level. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(message);
    this.command = command;
  }
}
