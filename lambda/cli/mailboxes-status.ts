/**
 * `mailfetch mailboxes list` (what is registered) and `status` (how it is doing, worst
 * first). A table for people, one JSON line per mailbox with --json.
 */
import { compareByTrouble, troubleOf } from '../registry/health';
import type { RegisteredMailbox } from '../registry/mailbox-registry';
import { parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode } from './exit-codes';
import { formatAge, formatTable, printable } from './format';
import { MAILBOXES_BASE_OPTIONS, withRegistry } from './mailboxes-options';
import { MAILBOXES_USAGE } from './mailboxes-usage';

/** The last error is cut to this in the table (the JSON has it whole). */
const ERROR_COLUMN_CHARS = 60;

export async function listCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  return show('list', argv, io, (mailboxes, json) => {
    const sorted = [...mailboxes].sort((a, b) => a.config.id.localeCompare(b.config.id));
    if (json) return sorted.map((m) => JSON.stringify({ mailbox: m.config.id, enabled: m.enabled, configVersion: m.configVersion, config: m.config }) + '\n').join('');
    const rows = sorted.map((m) => [m.config.id, m.enabled ? 'enabled' : 'disabled', `${m.config.host}:${m.config.port}`, m.config.schedule]);
    return formatTable([['MAILBOX', 'STATE', 'SERVER', 'SCHEDULE'], ...rows]);
  });
}

export async function statusCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const now = Date.now();
  return show('status', argv, io, (mailboxes, json) => {
    const sorted = [...mailboxes].sort(compareByTrouble);
    if (json) return sorted.map((m) => JSON.stringify(statusRecord(m)) + '\n').join('');
    const rows = sorted.map((m) => {
      const h = m.health;
      const error = h.lastErrorCode === undefined ? '' : printable(`${h.lastErrorCode}: ${h.lastErrorMessage ?? ''}`).slice(0, ERROR_COLUMN_CHARS);
      return [m.config.id, troubleOf(m), formatAge(h.lastRunAt, now), formatAge(h.lastSuccessAt, now), String(h.consecutiveFailures), String(h.backlog ?? 0), error];
    });
    return formatTable([['MAILBOX', 'HEALTH', 'LAST RUN', 'LAST SUCCESS', 'FAILURES', 'BACKLOG', 'LAST ERROR'], ...rows]);
  });
}

/** The --json line of status: every health field, null when unknown. */
function statusRecord(m: RegisteredMailbox): Record<string, unknown> {
  const h = m.health;
  return {
    mailbox: m.config.id,
    health: troubleOf(m),
    enabled: m.enabled,
    consecutiveFailures: h.consecutiveFailures,
    backlog: h.backlog ?? null,
    lastRunAt: h.lastRunAt ?? null,
    lastRunStatus: h.lastRunStatus ?? null,
    lastAction: h.lastAction ?? null,
    lastSuccessAt: h.lastSuccessAt ?? null,
    lastErrorAt: h.lastErrorAt ?? null,
    lastErrorCode: h.lastErrorCode ?? null,
    lastErrorMessage: h.lastErrorMessage ?? null,
    host: m.config.host,
    schedule: m.config.schedule,
  };
}

async function show(sub: 'list' | 'status', argv: readonly string[], io: CliIo, render: (mailboxes: RegisteredMailbox[], json: boolean) => string): Promise<ExitCode> {
  const command = `mailboxes ${sub}`;
  const values = parseCommand(command, argv, MAILBOXES_BASE_OPTIONS);
  if (values.help) {
    io.stdout.write(MAILBOXES_USAGE);
    return ExitCode.OK;
  }
  return withRegistry(values, io, command, async ({ registry, description }) => {
    const mailboxes = await registry.list();
    if (mailboxes.length === 0 && values.json !== true) {
      io.stdout.write(`no mailbox in the registry (${description}); 'mailfetch mailboxes add --config FILE' adds some\n`);
      return ExitCode.OK;
    }
    io.stdout.write(render(mailboxes, values.json === true));
    return ExitCode.OK;
  });
}
