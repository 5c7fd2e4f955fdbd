/**
 * `mailfetch mailboxes add` and `update`: the configuration comes from a file, through the
 * same parser as every other command (so `defaults` apply and every problem is listed).
 * Every id is checked before anything is written: a refused command changes nothing.
 * With `--password-stdin` (or the OAuth equivalents) the credential is read from standard
 * input, with `--client-certificate FILE --client-key FILE` from those files, and sealed
 * into the registry item; `update` then needs no file.
 */
import type { MailboxConfig } from '../config/mailbox-config';
import type { CredentialField } from '../credentials/credential-slot';
import { alreadyRegistered, notRegistered } from '../registry/errors';
import type { RegisteredMailbox } from '../registry/mailbox-registry';
import { changedFields } from '../registry/registry-sync';
import { parseCommand } from './args';
import type { CliIo } from './cli-io';
import { CREDENTIAL_OPTIONS, credentialMailbox, loadMailboxForCredentials, requestedFields, sealInput } from './credential-input';
import { ExitCode, UsageError } from './exit-codes';
import { CONFIG_OPTION, MAILBOXES_BASE_OPTIONS, MAILBOX_ID_OPTION, withRegistry, writeLine } from './mailboxes-options';
import { MAILBOXES_USAGE } from './mailboxes-usage';
import type { RegistryTable } from './registry-table';
import { loadMailboxes } from './setup';

const EDIT_OPTIONS = { ...MAILBOXES_BASE_OPTIONS, ...MAILBOX_ID_OPTION, ...CONFIG_OPTION, ...CREDENTIAL_OPTIONS } as const;
const ADD_OPTIONS = { ...EDIT_OPTIONS, disabled: { type: 'boolean' } } as const;

type EditValues = ReturnType<typeof parseCommand<typeof EDIT_OPTIONS>>;

export async function addCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = 'mailboxes add';
  const values = parseCommand(command, argv, ADD_OPTIONS);
  if (values.help) return help(io);
  const fields = requestedFields(values, command);
  const mailboxes = await fileMailboxes(values, fields, io, command);
  const enabled = values.disabled !== true;
  return withRegistry(values, io, command, async (table) => {
    const { registry, description } = table;
    for (const mailbox of mailboxes) if ((await registry.get(mailbox.id)) !== undefined) throw alreadyRegistered(mailbox.id, registry.description);
    for (const file of mailboxes) {
      const mailbox = fields.length === 0 ? file : await sealInput(io, table.sealed, file, fields, values, command);
      await registry.add(mailbox, { enabled });
      const record = { mailbox: mailbox.id, change: 'added', enabled, ...sealedOf(fields) };
      writeLine(io, values.json === true, record, `added ${mailbox.id} (${enabled ? 'enabled' : 'disabled'}) to the registry (${description})${sealedText(fields)}`);
    }
    return ExitCode.OK;
  });
}

export async function updateCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = 'mailboxes update';
  const values = parseCommand(command, argv, EDIT_OPTIONS);
  if (values.help) return help(io);
  const fields = requestedFields(values, command);
  if (values.config === undefined && fields.length === 0) throw new UsageError('--config FILE is required (or a credential to seal, e.g. --password-stdin, or --client-certificate FILE --client-key FILE)', command);
  // Without --config: the registered configuration, with only the credential replaced.
  const fromFile = values.config === undefined ? undefined : await fileMailboxes(values, fields, io, command);
  return withRegistry(values, io, command, async (table) => {
    const before = new Map<string, RegisteredMailbox>();
    for (const id of fromFile?.map((m) => m.id) ?? [credentialMailbox(values.mailbox, command)]) {
      const current = await table.registry.get(id);
      if (current === undefined) throw notRegistered(id, table.registry.description);
      before.set(id, current);
    }
    for (const [id, current] of before) {
      const wanted = fromFile?.find((m) => m.id === id) ?? current.config;
      await applyUpdate(table, current.config, fields.length === 0 ? wanted : await sealInput(io, table.sealed, wanted, fields, values, command), fields, values, io);
    }
    return ExitCode.OK;
  });
}

/** The mailboxes of --config: all, or those named; one, with stand-ins for its credentials, when they come from stdin. */
async function fileMailboxes(values: EditValues, fields: readonly CredentialField[], io: CliIo, command: string): Promise<MailboxConfig[]> {
  if (fields.length === 0) return loadMailboxes(values.config, values.mailbox, io, command);
  if (values.config === undefined || values.config === '') throw new UsageError('--config FILE is required', command);
  return [await loadMailboxForCredentials(values.config, credentialMailbox(values.mailbox, command), fields, command)];
}

async function applyUpdate(table: RegistryTable, before: MailboxConfig, after: MailboxConfig, fields: readonly CredentialField[], values: EditValues, io: CliIo): Promise<void> {
  const changed = changedFields(before, after);
  if (changed.length > 0) await table.registry.update(after);
  const record = { mailbox: after.id, change: changed.length > 0 ? 'updated' : 'unchanged', fields: changed, ...sealedOf(fields) };
  writeLine(io, values.json === true, record, changed.length > 0 ? `updated ${after.id}: ${changed.join(', ')}${sealedText(fields)}` : `unchanged ${after.id}`);
}

/** The JSON line names the sealed fields, never a value. */
function sealedOf(fields: readonly CredentialField[]): { sealed?: readonly CredentialField[] } {
  return fields.length === 0 ? {} : { sealed: fields };
}

function sealedText(fields: readonly CredentialField[]): string {
  return fields.length === 0 ? '' : ` (${fields.join(', ')} sealed)`;
}

function help(io: CliIo): ExitCode {
  io.stdout.write(MAILBOXES_USAGE);
  return ExitCode.OK;
}
