/**
 * `mailfetch demo`: the whole pipeline on this machine with nothing beyond `npm ci`. A
 * POP3 server with sample mail (in this process), the local storage of `--local DIR`
 * (messages as .eml files, state in the embedded DynamoDB), and the same check and fetch
 * code as the real commands: check, fetch, fetch again (nothing new), new mail arrives,
 * fetch. Then it shows the .eml files, where they are, and where the state is.
 */
import { mkdtemp, open, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import type { MailboxConfig } from '../config/mailbox-config';
import { parseConfig } from '../config/validate-config';
import { DEFAULT_PREFIX } from '../env';
import { MAX_HEADER_CAPTURE_OCTETS, captureHeaderBlock, extractHeaderFields } from '../storage/header-block';
import { MESSAGE_OBJECT_SUFFIX } from '../storage/object-key';
import { initialDemoMessages, laterDemoMessages } from '../local/demo-mail';
import { startDemoPop3Server, type DemoPop3Server } from '../local/demo-pop3-server';
import { parseCommand } from './args';
import { checkMailbox, checkText, stateViewOf } from './check-command';
import type { CliIo } from './cli-io';
import { ExitCode } from './exit-codes';
import { fetchAll } from './fetch-command';
import { formatBytes, formatDuration, plural, printable } from './format';
import { DEFAULT_TIME_LIMIT_MS, summaryFailed } from './run-fetch';
import { createCliLogger, createCredentials } from './setup';
import { LOCAL_TABLE, localStateDirectory, openStorage, type Storage } from './storage';
import { DEMO_USAGE } from './usage';

const DEMO_OPTIONS = {
  dir: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const;
export const DEMO_MAILBOX_ID = 'demo';
/** The environment variable the demo mailbox's password reference names (set in-process). */
export const DEMO_PASSWORD_ENV = 'MAILFETCH_DEMO_PASSWORD';
const INDENT = '   ';

export async function demoCommand(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  const values = parseCommand('demo', argv, DEMO_OPTIONS);
  if (values.help) {
    io.stdout.write(DEMO_USAGE);
    return ExitCode.OK;
  }
  const started = Date.now();
  const temporary = values.dir === undefined;
  const dir = values.dir === undefined ? await mkdtemp(join(tmpdir(), 'mailfetch-demo-')) : isAbsolute(values.dir) ? values.dir : resolve(io.cwd, values.dir);
  const verbose = values.verbose === true;
  const out = (text = ''): void => io.stdout.write(`${text}\n`);

  const pop3 = await startDemoPop3Server({ messages: initialDemoMessages() });
  const previousPassword = io.env[DEMO_PASSWORD_ENV];
  io.env[DEMO_PASSWORD_ENV] = pop3.password;
  let storage: Storage | undefined;
  try {
    const configJson = demoConfig(pop3);
    const mailbox = parseConfig(configJson).mailboxes[0]!;
    out('mailfetch demo: a POP3 mailbox -> mailfetch -> .eml files + DynamoDB state, all on this machine');
    out();
    out(`POP3 server  ${pop3.host}:${pop3.port} (in this process), user ${pop3.username}, ${plural(pop3.messageCount, 'message')}`);
    out('             Note: the demo server speaks POP3 without TLS on 127.0.0.1; real mailboxes use TLS.');
    storage = await openStorage({ kind: 'local', dir, prefix: DEFAULT_PREFIX }, { readOnly: false });
    out(`Storage      ${storage.description}`);
    // A --dir used before holds the previous demo's state: start from scratch, as the story needs.
    if ((await storage.state.resetMailbox(mailbox.id)) > 0) out('             (the state of an earlier demo run in this directory was reset)');
    out(`Config       ${JSON.stringify(configJson)}`);
    out(`             (the password comes from ${DEMO_PASSWORD_ENV}, set inside this process)`);

    let failed = false;
    out();
    out('[1/4] mailfetch check: connect, log in, count (read-only)');
    const report = await checkMailbox(mailbox, {
      credentials: createCredentials(io, storage.sealed),
      state: stateViewOf(storage),
      log: createCliLogger(io, verbose, { mailbox: mailbox.id }),
      verbose,
    });
    failed ||= !report.ok;
    out(indent(checkText(report)));

    const fetch = async (title: string): Promise<void> => {
      out();
      out(title);
      const [summary] = await fetchAll([mailbox], storage!, io, { mode: 'fetch', timeLimitMs: DEFAULT_TIME_LIMIT_MS, json: false, verbose, indent: INDENT });
      failed ||= summary === undefined || summaryFailed(summary);
    };
    await fetch('[2/4] mailfetch fetch: the first run fetches every message');
    await fetch('[3/4] mailfetch fetch again: nothing new, nothing fetched twice');
    const later = laterDemoMessages();
    pop3.deliver(later);
    await fetch(`[4/4] ${plural(later.length, 'new message')} arrive; mailfetch fetch: only those are fetched`);

    out();
    await showMessages(storage, dir, mailbox, out);
    out();
    out(`Done in ${formatDuration(Date.now() - started)}.${temporary ? ` The data stays in ${dir}; delete it when done.` : ''}`);
    if (failed) out('The demo did NOT go as expected: see the errors above.');
    return failed ? ExitCode.MAILBOX_FAILED : ExitCode.OK;
  } finally {
    await storage?.close();
    await pop3.close();
    if (previousPassword === undefined) delete io.env[DEMO_PASSWORD_ENV];
    else io.env[DEMO_PASSWORD_ENV] = previousPassword;
  }
}

/** The configuration file the demo would have: one mailbox, validated like any other. */
function demoConfig(pop3: DemoPop3Server): { mailboxes: Record<string, unknown>[] } {
  return {
    mailboxes: [
      {
        id: DEMO_MAILBOX_ID,
        host: pop3.host,
        port: pop3.port,
        tls: 'none',
        allowPlaintextAuth: true,
        username: pop3.username,
        password: { env: DEMO_PASSWORD_ENV },
      },
    ],
  };
}

/** Lists the mailbox's .eml files (key, size, subject from the file's header) and where they are on disk. */
async function showMessages(storage: Storage, dir: string, mailbox: MailboxConfig, out: (text?: string) => void): Promise<void> {
  const directory = storage.messageLocation(mailbox.id);
  const names = (await readdir(directory)).filter((name) => name.endsWith(MESSAGE_OBJECT_SUFFIX)).sort();
  const keys = names.map((name) => `${storage.prefix}${mailbox.id}/${name}`);
  out(`Messages (${names.length}), each a plain .eml file any mail client opens:`);
  const width = Math.max(0, ...keys.map((key) => key.length));
  for (const [i, name] of names.entries()) {
    const { size, subject } = await messageFacts(join(directory, name));
    out(`  ${keys[i]!.padEnd(width)}  ${formatBytes(size).padStart(9)}  ${subject === undefined ? '' : printable(subject)}`);
  }
  out(`On disk:     ${directory}`);
  out(`State:       ${localStateDirectory(dir)}  (DynamoDB table ${LOCAL_TABLE}, one record per message)`);
}

/** The size of a message file and the Subject of its header block (read from its first bytes only). */
async function messageFacts(path: string): Promise<{ size: number; subject: string | undefined }> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const { buffer, bytesRead } = await file.read({ buffer: Buffer.alloc(Math.min(size, MAX_HEADER_CAPTURE_OCTETS)), position: 0 });
    const subject = extractHeaderFields(captureHeaderBlock(buffer.subarray(0, bytesRead))).subject;
    return { size, subject: decodeHeaderValue(subject) };
  } finally {
    await file.close();
  }
}

/** Header values are percent-encoded UTF-8 (see toMetadataValue). */
function decodeHeaderValue(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function indent(text: string): string {
  return text
    .replace(/\n$/, '')
    .split('\n')
    .map((line) => `${INDENT}${line}`)
    .join('\n');
}
