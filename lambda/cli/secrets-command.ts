/**
 * `mailfetch secrets seal | rotate-key`: the sealed credentials of a registry.
 *
 * - `seal --mailbox ID --field F` reads one credential from standard input (or a prompt)
 *   and prints `{"sealed":"v1:..."}` for a configuration file: it opens only for that
 *   mailbox and field, and only with this table's data keys.
 * - `rotate-key [--reseal]` adds a data key version; new values are sealed with it, older
 *   ones keep opening. `--reseal` seals every registered credential again with it
 *   (conditionally: a refresh token rotated meanwhile by the worker is not lost).
 */
import { parseCertificatePem, parsePrivateKeyPem } from '../config/client-certificate-pem';
import { CREDENTIAL_FIELDS, credentialRefs, isCredentialField, isPemField, type CredentialField, type CredentialSlot } from '../credentials/credential-slot';
import type { MailboxConfig, SecretRef } from '../config/mailbox-config';
import { isCredentialError } from '../credentials/credential-error';
import type { SealedCredentialStore } from '../credentials/sealed-credential-store';
import { parseCommand } from './args';
import type { CliIo } from './cli-io';
import { credentialMailbox } from './credential-input';
import { ExitCode, UsageError } from './exit-codes';
import { MAILBOXES_BASE_OPTIONS, MAILBOX_ID_OPTION, withRegistry, writeLine } from './mailboxes-options';
import { readSecretLines, readSecretText } from './secret-input';
import { SECRETS_USAGE } from './secrets-usage';

const SEAL_OPTIONS = { ...MAILBOXES_BASE_OPTIONS, ...MAILBOX_ID_OPTION, field: { type: 'string', short: 'f' } } as const;
const ROTATE_OPTIONS = { ...MAILBOXES_BASE_OPTIONS, reseal: { type: 'boolean' } } as const;

type Subcommand = (argv: readonly string[], io: CliIo) => Promise<ExitCode>;

const SUBCOMMANDS: Readonly<Record<string, Subcommand>> = { seal: sealCommand, 'rotate-key': rotateKeyCommand };

export async function secretsCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    io.stdout.write(SECRETS_USAGE);
    return ExitCode.OK;
  }
  const run = sub !== undefined && Object.hasOwn(SUBCOMMANDS, sub) ? SUBCOMMANDS[sub] : undefined;
  if (run === undefined) throw new UsageError(`${sub === undefined ? 'a subcommand is needed' : `unknown subcommand "${sub}"`} (one of: ${Object.keys(SUBCOMMANDS).join(', ')})`, 'secrets');
  return run(rest, io);
}

async function sealCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = 'secrets seal';
  const values = parseCommand(command, argv, SEAL_OPTIONS);
  if (values.help) return usage(io);
  const mailboxId = credentialMailbox(values.mailbox, command);
  const field = values.field ?? 'password';
  if (!isCredentialField(field)) throw new UsageError(`--field must be one of ${CREDENTIAL_FIELDS.join(', ')}`, command);
  return withRegistry(values, io, command, async ({ sealed }) => {
    const label = `${field} for mailbox ${mailboxId}`;
    const value = isPemField(field) ? checkedPem(field, await readSecretText(io, label, command), label, command) : (await readSecretLines(io, [label], command))[0]!;
    const ref: SecretRef = { sealed: await sealed.seal(value, { mailboxId, field }) };
    // The ciphertext only: what a configuration file holds (it opens for this slot only).
    io.stdout.write(`${JSON.stringify(ref)}\n`);
    return ExitCode.OK;
  });
}

async function rotateKeyCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const command = 'secrets rotate-key';
  const values = parseCommand(command, argv, ROTATE_OPTIONS);
  if (values.help) return usage(io);
  const json = values.json === true;
  return withRegistry(values, io, command, async ({ registry, sealed, description }) => {
    const { version } = await sealed.ring.rotate();
    writeLine(io, json, { change: 'rotated', keyVersion: version }, `created data key version ${version} in ${description}: new credentials are sealed with it`);
    if (values.reseal !== true) return ExitCode.OK;
    let failed = false;
    for (const mailbox of await registry.list()) {
      for (const slot of sealedSlots(mailbox.config)) failed = !(await resealOne(io, json, sealed, slot, version)) || failed;
    }
    return failed ? ExitCode.MAILBOX_FAILED : ExitCode.OK;
  });
}

/** One slot; a value that does not open is reported (by code and slot) and the others go on. */
async function resealOne(io: CliIo, json: boolean, store: SealedCredentialStore, slot: CredentialSlot, version: number): Promise<boolean> {
  const at = { mailbox: slot.mailboxId, field: slot.field, keyVersion: version };
  try {
    const change = (await store.reseal(slot, version)) ? 'resealed' : 'unchanged';
    writeLine(io, json, { ...at, change }, `${change} ${slot.mailboxId} ${slot.field}`);
    return true;
  } catch (err) {
    if (!isCredentialError(err)) throw err;
    writeLine(io, json, { ...at, change: 'failed', code: err.code, message: err.message }, `failed ${slot.mailboxId} ${slot.field}: ${err.code}: ${err.message}`);
    return false;
  }
}

/** A certificate or key that decodes (whether they match is checked when the mailbox runs). */
function checkedPem(field: CredentialField, pem: string, label: string, command: string): string {
  const parsed = field === 'clientKey' ? parsePrivateKeyPem(pem) : parseCertificatePem(pem);
  if (typeof parsed === 'string') throw new UsageError(`${label} on standard input ${parsed}`, command);
  return pem;
}

/** The slots of a configuration that hold sealed values. */
export function sealedSlots(config: MailboxConfig): CredentialSlot[] {
  return credentialRefs(config)
    .filter(([, ref]) => 'sealed' in ref)
    .map(([field]) => ({ mailboxId: config.id, field }));
}

function usage(io: CliIo): ExitCode {
  io.stdout.write(SECRETS_USAGE);
  return ExitCode.OK;
}
