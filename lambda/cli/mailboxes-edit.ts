/**
 * `mailfetch mailboxes add` and `update`: the configuration comes from a file, through the
 * same parser as every other command (so `defaults` apply and every problem is listed).
 * Every id is checked before anything is written: a refused command changes nothing.
 */
import { alreadyRegistered, notRegistered } from '../registry/errors';
import { changedFields } from '../registry/registry-sync';
import { parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode } from './exit-codes';
import { CONFIG_OPTION, MAILBOXES_BASE_OPTIONS, MAILBOX_ID_OPTION, withRegistry, writeLine } from './mailboxes-options';
import { MAILBOXES_USAGE } from './mailboxes-usage';
import { loadMailboxes } from './setup';

const EDIT_OPTIONS = { ...MAILBOXES_BASE_OPTIONS, ...MAILBOX_ID_OPTION, ...CONFIG_OPTION } as const;
const ADD_OPTIONS = { ...EDIT_OPTIONS, disabled: { type: 'boolean' } } as const;

export async function addCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = 'mailboxes add';
  const values = parseCommand(command, argv, ADD_OPTIONS);
  if (values.help) return help(io);
  const mailboxes = await loadMailboxes(values.config, values.mailbox, io, command);
  const enabled = values.disabled !== true;
  return withRegistry(values, io, command, async ({ registry, description }) => {
    for (const mailbox of mailboxes) if ((await registry.get(mailbox.id)) !== undefined) throw alreadyRegistered(mailbox.id, registry.description);
    for (const mailbox of mailboxes) {
      await registry.add(mailbox, { enabled });
      writeLine(io, values.json === true, { mailbox: mailbox.id, change: 'added', enabled }, `added ${mailbox.id} (${enabled ? 'enabled' : 'disabled'}) to the registry (${description})`);
    }
    return ExitCode.OK;
  });
}

export async function updateCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = 'mailboxes update';
  const values = parseCommand(command, argv, EDIT_OPTIONS);
  if (values.help) return help(io);
  const mailboxes = await loadMailboxes(values.config, values.mailbox, io, command);
  return withRegistry(values, io, command, async ({ registry }) => {
    const before = new Map<string, Awaited<ReturnType<typeof registry.get>>>();
    for (const mailbox of mailboxes) {
      const current = await registry.get(mailbox.id);
      if (current === undefined) throw notRegistered(mailbox.id, registry.description);
      before.set(mailbox.id, current);
    }
    for (const mailbox of mailboxes) {
      const fields = changedFields(before.get(mailbox.id)!.config, mailbox);
      if (fields.length > 0) await registry.update(mailbox);
      const change = fields.length > 0 ? 'updated' : 'unchanged';
      writeLine(io, values.json === true, { mailbox: mailbox.id, change, fields }, fields.length > 0 ? `updated ${mailbox.id}: ${fields.join(', ')}` : `unchanged ${mailbox.id}`);
    }
    return ExitCode.OK;
  });
}

function help(io: CliIo): ExitCode {
  io.stdout.write(MAILBOXES_USAGE);
  return ExitCode.OK;
}
