/** What every `mailboxes` subcommand shares: its options and opening the registry. */
import type { CliIo } from './cli-io';
import { openRegistryTable, REGISTRY_TABLE_OPTIONS, type RegistryTable, type RegistryTableFlags } from './registry-table';

export const MAILBOXES_BASE_OPTIONS = {
  ...REGISTRY_TABLE_OPTIONS,
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;

export const MAILBOX_ID_OPTION = { mailbox: { type: 'string', short: 'm', multiple: true } } as const;
export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const;

/** Opens the registry, runs `work`, and closes it whatever happens. */
export async function withRegistry<T>(flags: RegistryTableFlags, io: CliIo, command: string, work: (table: RegistryTable) => Promise<T>): Promise<T> {
  const table = await openRegistryTable(flags, io.env, io.cwd, command);
  try {
    return await work(table);
  } finally {
    await table.close();
  }
}

/** One line per mailbox: JSON, or text. */
export function writeLine(io: CliIo, json: boolean, record: Record<string, unknown>, text: string): void {
  io.stdout.write(json ? `${JSON.stringify(record)}\n` : `${text}\n`);
}
