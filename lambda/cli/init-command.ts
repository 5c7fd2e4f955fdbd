/**
 * `mailfetch init`: writes a starter configuration file that validates as it is, names the
 * JSON Schema (so editors complete and check it), and says what to do next. Never
 * overwrites a file unless told to.
 */
import { existsSync } from 'node:fs';
import { link, rm, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../config/validate-config';
import { parseCommand } from './args';
import type { CliIo } from './cli-io';
import { ExitCode, UsageError } from './exit-codes';
import { INIT_USAGE } from './usage';

/** Where init writes without --config. */
export const DEFAULT_CONFIG_FILE = 'mailfetch.config.json';
/** The environment variable the starter's password reference names. */
export const STARTER_PASSWORD_ENV = 'MAILFETCH_PASSWORD';
/** A `$schema` path climbing more than this many directories is not worth writing into a file people commit. */
const MAX_SCHEMA_PARENT_STEPS = 3;

const INIT_OPTIONS = {
  config: { type: 'string', short: 'c' },
  id: { type: 'string' },
  host: { type: 'string' },
  username: { type: 'string' },
  force: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function initCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const values = parseCommand('init', argv, INIT_OPTIONS);
  if (values.help) {
    io.stdout.write(INIT_USAGE);
    return ExitCode.OK;
  }
  const file = resolve(io.cwd, values.config ?? DEFAULT_CONFIG_FILE);
  const config = starterConfig(file, { id: values.id ?? 'inbox', host: values.host ?? 'pop.example.com', username: values.username ?? 'you@example.com' });
  // The same parser as every command: an --id or --host it would refuse is refused now.
  parseConfig(config, 'the values given to init (--id, --host, --username)');
  await writeNew(file, `${JSON.stringify(config, null, 2)}\n`, values.force === true);
  io.stdout.write(nextSteps(relative(io.cwd, file) || file, values.host === undefined || values.username === undefined));
  return ExitCode.OK;
}

interface StarterFields {
  readonly id: string;
  readonly host: string;
  readonly username: string;
}

function starterConfig(file: string, fields: StarterFields): Record<string, unknown> {
  const schema = schemaReference(dirname(file));
  return {
    ...(schema === undefined ? {} : { $schema: schema }),
    mailboxes: [
      {
        id: fields.id,
        host: fields.host,
        username: fields.username,
        password: { env: STARTER_PASSWORD_ENV },
        retention: 'keep',
        schedule: 'rate(5 minutes)',
      },
    ],
  };
}

/** The schema shipped with this package, relative to the file's directory, if that stays short. */
function schemaReference(fromDir: string): string | undefined {
  const schema = fileURLToPath(new URL('../../schema/mailfetch.config.schema.json', import.meta.url));
  if (!existsSync(schema)) return undefined;
  const path = relative(fromDir, schema);
  if (isAbsolute(path) || path.split(sep).filter((part) => part === '..').length > MAX_SCHEMA_PARENT_STEPS) return undefined;
  return path.split(sep).join('/');
}

/** Written whole under a temporary name, then linked into place: never a half file, never a clobbered one. */
async function writeNew(file: string, text: string, force: boolean): Promise<void> {
  if (!force && existsSync(file)) throw new UsageError(`${file} already exists; add --force to overwrite it`, 'init');
  const temporary = join(dirname(file), `.${process.pid}.${Date.now()}.mailfetch-init.tmp`);
  try {
    await writeFile(temporary, text, { flag: 'wx' });
    if (force) await rm(file, { force: true });
    await link(temporary, file).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new UsageError(`${file} already exists; add --force to overwrite it`, 'init');
      throw err;
    });
  } finally {
    await rm(temporary, { force: true });
  }
}

function nextSteps(file: string, placeholders: boolean): string {
  return [
    `Wrote ${file}.`,
    'Next:',
    ...(placeholders ? [`  1. Put your POP3 server and user name in it (or run init again with --host and --username --force).`] : []),
    `  ${placeholders ? 2 : 1}. Try it, read-only:  ${STARTER_PASSWORD_ENV}='...' mailfetch check --config ${file}`,
    `  ${placeholders ? 3 : 2}. Fetch new mail into ./.mailfetch/:  ${STARTER_PASSWORD_ENV}='...' mailfetch fetch --config ${file}`,
    '  To deploy, replace "password": { "env": ... } with { "secretId": "mailfetch/<id>" } (a Secrets',
    "  Manager secret) or a value from 'mailfetch secrets seal', and pass the file's mailboxes to the",
    '  MailFetcher construct in your CDK app (README "The construct in ten lines").',
    '',
  ].join('\n');
}
