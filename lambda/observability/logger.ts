/**
 * Structured JSON logs, one object per line, for CloudWatch Logs Insights. Every line
 * carries the mailbox id given at creation. Fields whose names suggest a secret are
 * replaced before anything is written: a credential never reaches a log line. On a
 * terminal the CLI asks for `text`: the same fields, scrubbed the same way, for a person.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_FIELD = /pass(word)?|secret|token|authorization|credential/i;

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines also carry `fields`. */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** @default process.env.LOG_LEVEL or 'info' */
  readonly level?: LogLevel;
  /** @default a line to stdout */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
  /** `json`: one object per line; `text`: `12:00:01.234 debug [mailbox] message key=value`. @default 'json' */
  readonly format?: 'json' | 'text';
}

export function createLogger(base: Record<string, unknown> = {}, options: LoggerOptions = {}): Logger {
  const level = options.level ?? parseLevel(process.env.LOG_LEVEL) ?? 'info';
  const write = options.write ?? ((line: string): void => void process.stdout.write(`${line}\n`));
  const now = options.now ?? ((): Date => new Date());
  const format = options.format ?? 'json';
  const emit = (lvl: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (ORDER[lvl] < ORDER[level]) return;
    const entry = scrub({ level: lvl, timestamp: now().toISOString(), message, ...base, ...fields }) as Record<string, unknown>;
    write(format === 'text' ? textLine(entry) : JSON.stringify(entry));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger({ ...base, ...fields }, { level, write, now, format }),
  };
}

/** A scrubbed entry for a person: time of day, level, [mailbox], message, then the other fields. */
function textLine(entry: Record<string, unknown>): string {
  const { level, timestamp, message, mailbox, ...rest } = entry;
  const time = typeof timestamp === 'string' ? timestamp.slice(11, 23) : '';
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]+$/.test(v) ? v : JSON.stringify(v)}`);
  return [time, String(level).padEnd(5), ...(mailbox === undefined ? [] : [`[${String(mailbox)}]`]), String(message), ...fields].join(' ');
}

function parseLevel(s: string | undefined): LogLevel | undefined {
  const l = s?.toLowerCase();
  return l === 'debug' || l === 'info' || l === 'warn' || l === 'error' ? l : undefined;
}

/** Replaces secret-looking fields at any depth; turns errors into plain objects. */
export function scrub(value: unknown, depth = 0): unknown {
  if (depth > 8) return '[deep]';
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown; retryable?: unknown };
    return { name: e.name, message: e.message, ...(e.code === undefined ? {} : { code: e.code }), ...(e.retryable === undefined ? {} : { retryable: e.retryable }) };
  }
  if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) && typeof v !== 'object' ? '***' : scrub(v, depth + 1);
    return out;
  }
  return value;
}
