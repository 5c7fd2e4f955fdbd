/**
 * Where the command line reads and writes: the process by default, anything in tests.
 * stdout carries results (human text, or JSON lines with --json); stderr carries logs.
 */
export interface OutputStream {
  write(text: string): void;
  /** True when it is a terminal: progress lines are redrawn in place. */
  readonly isTTY: boolean;
  /** Terminal width, when known. */
  readonly columns?: number | undefined;
}

/** Standard input: credentials for `--password-stdin` and the like. */
export type InputStream = NodeJS.ReadableStream & {
  /** True on a terminal: credentials are prompted for, without echo. */
  readonly isTTY?: boolean | undefined;
  setRawMode?(mode: boolean): unknown;
};

export interface CliIo {
  /** Absent where nothing can be read (credentials flags then fail with a usage error). */
  readonly stdin?: InputStream;
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  readonly env: NodeJS.ProcessEnv;
  /** Relative paths (`--local`, the default `.mailfetch/`) are resolved against this. */
  readonly cwd: string;
  /** Where SIGINT/SIGTERM come from (fetch stops cleanly on them). Absent: never interrupted. */
  readonly signals?: SignalSource;
}

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

/** The process's signals and exit, or a stand-in in tests. */
export interface SignalSource {
  on(signal: InterruptSignal, listener: () => void): unknown;
  off(signal: InterruptSignal, listener: () => void): unknown;
  /** Ends the process at once (the second Ctrl-C). */
  exit(code: number): void;
}

export function processIo(): CliIo {
  return {
    stdin: process.stdin,
    stdout: streamOf(process.stdout),
    stderr: streamOf(process.stderr),
    env: process.env,
    cwd: process.cwd(),
    signals: process,
  };
}

function streamOf(stream: NodeJS.WriteStream): OutputStream {
  return {
    write: (text) => void stream.write(text),
    isTTY: stream.isTTY === true,
    get columns() {
      return stream.columns;
    },
  };
}
