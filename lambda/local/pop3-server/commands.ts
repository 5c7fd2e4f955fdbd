// The fake server's default command handling: a correct RFC 1939 server (with CAPA, STLS
// and AUTH), asking the active profiles wherever real servers differ.
import { AUTH_FAILED_LINE, runSasl } from './fake-pop3-auth';
import type { FakeCommand, FakeMessage, FakeSessionState } from './fake-pop3-types';
import { apopDigest, apopTimestamp, messageSize, restOfLine, topOf } from './fake-pop3-wire';
import type { Session } from './session';

type Handler = (s: Session, cmd: FakeCommand) => Promise<void>;

const ANY_STATE: readonly FakeSessionState[] = ['AUTHORIZATION', 'TRANSACTION'];
const BEFORE_LOGIN: readonly FakeSessionState[] = ['AUTHORIZATION'];
const AFTER_LOGIN: readonly FakeSessionState[] = ['TRANSACTION'];

const COMMANDS: Record<string, { states: readonly FakeSessionState[]; run: Handler }> = {
  CAPA: { states: ANY_STATE, run: capa },
  USER: { states: BEFORE_LOGIN, run: user },
  PASS: { states: BEFORE_LOGIN, run: pass },
  APOP: { states: BEFORE_LOGIN, run: apop },
  AUTH: { states: BEFORE_LOGIN, run: auth },
  STLS: { states: BEFORE_LOGIN, run: stls },
  STAT: { states: AFTER_LOGIN, run: stat },
  LIST: { states: AFTER_LOGIN, run: list },
  UIDL: { states: AFTER_LOGIN, run: uidl },
  RETR: { states: AFTER_LOGIN, run: retr },
  TOP: { states: AFTER_LOGIN, run: top },
  DELE: { states: AFTER_LOGIN, run: dele },
  RSET: { states: AFTER_LOGIN, run: (s) => rset(s) },
  NOOP: { states: AFTER_LOGIN, run: (s) => s.writeLine('+OK') },
  QUIT: { states: ANY_STATE, run: (s) => quit(s) },
};

export function parseCommand(raw: Buffer): FakeCommand {
  const words = raw.toString('latin1').split(' ').filter((w) => w !== '');
  return { verb: (words[0] ?? '').toUpperCase(), args: words.slice(1), raw };
}

export async function dispatch(s: Session, cmd: FakeCommand): Promise<void> {
  const command = Object.hasOwn(COMMANDS, cmd.verb) ? COMMANDS[cmd.verb] : undefined;
  if (!command) return s.writeLine('-ERR unknown command');
  if (!command.states.includes(s.state)) return s.writeLine(`-ERR ${cmd.verb} not valid in the ${s.state} state`);
  return command.run(s, cmd);
}

async function capa(s: Session): Promise<void> {
  const caps = s.capabilities();
  if (!caps) return s.writeLine('-ERR unknown command');
  await s.writeLine('+OK Capability list follows');
  await s.writeMultiline(lines(caps));
}

async function user(s: Session, cmd: FakeCommand): Promise<void> {
  const name = restOfLine(cmd.raw);
  if (name.length === 0) return s.writeLine('-ERR USER needs a name');
  // Like real servers, accept any name here and fail at PASS, so names cannot be probed.
  s.pendingUser = name;
  await s.writeLine('+OK');
}

async function pass(s: Session, cmd: FakeCommand): Promise<void> {
  const name = s.pendingUser?.toString('utf8');
  if (name === undefined) return s.writeLine('-ERR USER first');
  s.pendingUser = null;
  const password = s.passwordOf(name);
  const ok = password !== undefined && restOfLine(cmd.raw).equals(utf8(password));
  return loginOrFail(s, ok, name);
}

async function apop(s: Session, cmd: FakeCommand): Promise<void> {
  const timestamp = apopTimestamp(s.settings.greeting);
  if (!timestamp) return s.writeLine('-ERR APOP not supported');
  const [name, digest] = cmd.args;
  if (name === undefined || digest === undefined) return s.writeLine('-ERR usage: APOP name digest');
  const password = s.passwordOf(name);
  const ok = password !== undefined && digest.toLowerCase() === apopDigest(timestamp, password);
  return loginOrFail(s, ok, name);
}

async function auth(s: Session, cmd: FakeCommand): Promise<void> {
  const mechanisms = s.mechanisms();
  const [name, initial] = cmd.args;
  if (name === undefined) {
    // Not in RFC 5034, but common: a bare AUTH lists the mechanisms.
    await s.writeLine('+OK');
    return s.writeMultiline(lines(mechanisms));
  }
  const mechanism = name.toUpperCase();
  if (!mechanisms.includes(mechanism)) return s.writeLine('-ERR unsupported authentication mechanism');
  const outcome = await runSasl(s.authContext(), mechanism, initial);
  if (outcome.kind === 'ok') return loginOrFail(s, true, outcome.user);
  if (outcome.kind === 'failed') return loginOrFail(s, false, '');
}

async function loginOrFail(s: Session, ok: boolean, loginName: string): Promise<void> {
  if (!ok) return s.writeLine(AUTH_FAILED_LINE);
  // Credentials are checked first, as real servers do: a lock is only looked at for a valid login.
  const refusal = s.server.chain.refuseLogin(s, s.server.api);
  if (refusal !== undefined) return s.writeLine(refusal);
  s.login(loginName);
  await s.writeLine('+OK Logged in.');
}

async function stls(s: Session): Promise<void> {
  if (!s.settings.stls || s.tls) return s.writeLine('-ERR STLS not available');
  await s.writeLine('+OK Begin TLS');
  await s.upgradeTls();
}

/** [number, message] of the messages not marked deleted. */
function liveMessages(s: Session): [number, FakeMessage][] {
  return s.mailbox.map((m, i): [number, FakeMessage] => [i + 1, m]).filter(([n]) => !s.deleted.has(n));
}

/** The size this server announces for `m`: exact, unless a profile says otherwise. */
function reportedSize(s: Session, m: FakeMessage): number {
  return s.server.chain.reportedSize(messageSize(m.bytes), m, s.server.api);
}

async function stat(s: Session): Promise<void> {
  const live = liveMessages(s);
  const octets = live.reduce((sum, [, m]) => sum + reportedSize(s, m), 0);
  await s.writeLine(`+OK ${live.length} ${octets}`);
}

async function list(s: Session, cmd: FakeCommand): Promise<void> {
  return listing(s, cmd, (m) => String(reportedSize(s, m)));
}

async function uidl(s: Session, cmd: FakeCommand): Promise<void> {
  return listing(s, cmd, (m) => m.uid);
}

/** LIST / UIDL: one "n value" line for message n, or a multi-line listing of all. */
async function listing(s: Session, cmd: FakeCommand, value: (m: FakeMessage) => string): Promise<void> {
  if (cmd.args[0] !== undefined) {
    const hit = lookup(s, cmd.args[0]);
    if (typeof hit === 'string') return s.writeLine(hit);
    // UTF-8, so a test can give a (non-conforming) non-ASCII UID and get its bytes on the wire.
    return s.write(utf8(`+OK ${hit.n} ${value(hit.message)}\r\n`));
  }
  const live = liveMessages(s);
  await s.writeLine(`+OK ${live.length} messages`);
  await s.writeMultiline(utf8(live.map(([n, m]) => `${n} ${value(m)}\r\n`).join('')));
}

async function retr(s: Session, cmd: FakeCommand): Promise<void> {
  const hit = lookup(s, cmd.args[0]);
  if (typeof hit === 'string') return s.writeLine(hit);
  s.retrieved.add(hit.n);
  await s.writeLine(`+OK ${reportedSize(s, hit.message)} octets`);
  await s.writeMultiline(hit.message.bytes);
}

async function top(s: Session, cmd: FakeCommand): Promise<void> {
  const hit = lookup(s, cmd.args[0]);
  if (typeof hit === 'string') return s.writeLine(hit);
  const bodyLines = cmd.args[1];
  if (bodyLines === undefined || !/^\d+$/.test(bodyLines)) return s.writeLine('-ERR usage: TOP msg n');
  s.topped.add(hit.n);
  await s.writeLine('+OK top of message follows');
  await s.writeMultiline(topOf(hit.message.bytes, Number(bodyLines)));
}

async function dele(s: Session, cmd: FakeCommand): Promise<void> {
  const hit = lookup(s, cmd.args[0]);
  if (typeof hit === 'string') return s.writeLine(hit);
  s.deleted.add(hit.n);
  await s.writeLine(`+OK message ${hit.n} deleted`);
}

async function rset(s: Session): Promise<void> {
  s.deleted.clear();
  await s.writeLine(`+OK maildrop has ${s.mailbox.length} messages`);
}

/** QUIT: from TRANSACTION through UPDATE, where the session's changes take effect (RFC 1939 section 6). */
async function quit(s: Session): Promise<void> {
  if (s.state === 'TRANSACTION') {
    s.state = 'UPDATE';
    await s.server.chain.beforeUpdate(s);
    s.server.commitQuit(s);
    await s.server.chain.afterUpdate(s);
    s.locked = false;
  }
  await s.writeLine('+OK fake POP3 signing off');
  s.end();
}

/** Message `arg` of this session, or the -ERR line to answer. */
function lookup(s: Session, arg: string | undefined): { n: number; message: FakeMessage } | string {
  if (arg === undefined || !/^\d+$/.test(arg)) return '-ERR invalid message number';
  const n = Number(arg);
  const message = n >= 1 ? s.mailbox[n - 1] : undefined;
  if (!message) return '-ERR no such message';
  if (s.deleted.has(n)) return '-ERR message already deleted';
  return { n, message };
}

function lines(items: readonly string[]): Buffer {
  return Buffer.from(items.map((i) => `${i}\r\n`).join(''), 'latin1');
}

function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8');
}
