/**
 * `mailfetch mailboxes import --config FILE [--dry-run]`: makes the registry match the file.
 * Mailboxes only in the file are added (enabled, or disabled with --disabled), those whose
 * configuration differs are updated (enabled and health stay), those not in the file are
 * removed (their state stays). Each change is reported; --dry-run writes nothing.
 */
import { applySync, planSync, type RegistryChange } from '../registry/registry-sync';
import { parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode } from './exit-codes';
import { CONFIG_OPTION, MAILBOXES_BASE_OPTIONS, withRegistry, writeLine } from './mailboxes-options';
import { MAILBOXES_USAGE } from './mailboxes-usage';
import { loadMailboxes } from './setup';

const IMPORT_OPTIONS = { ...MAILBOXES_BASE_OPTIONS, ...CONFIG_OPTION, 'dry-run': { type: 'boolean' }, disabled: { type: 'boolean' } } as const;
const KINDS: readonly RegistryChange['change'][] = ['added', 'updated', 'removed', 'unchanged'];

export async function importCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = 'mailboxes import';
  const values = parseCommand(command, argv, IMPORT_OPTIONS);
  if (values.help) {
    io.stdout.write(MAILBOXES_USAGE);
    return ExitCode.OK;
  }
  const wanted = await loadMailboxes(values.config, undefined, io, command);
  const dryRun = values['dry-run'] === true;
  const json = values.json === true;
  return withRegistry(values, io, command, async ({ registry, description }) => {
    const changes = planSync(wanted, await registry.list());
    if (!dryRun) await applySync(registry, changes, { enableAdded: values.disabled !== true });
    for (const c of changes) {
      const fields = c.fields === undefined ? '' : `: ${c.fields.join(', ')}`;
      writeLine(io, json, { mailbox: c.mailbox, change: c.change, ...(c.fields ? { fields: c.fields } : {}), dryRun }, `${c.change.padEnd(9)} ${c.mailbox}${fields}`);
    }
    if (!json) {
      const counts = KINDS.map((kind) => `${changes.filter((c) => c.change === kind).length} ${kind}`).join(', ');
      io.stdout.write(dryRun ? `dry run, nothing written: would leave ${counts} (${description})\n` : `${counts} (${description})\n`);
    }
    return ExitCode.OK;
  });
}
