/**
 * The POP3 server `mailfetch demo` fetches from: the in-process server of
 * ./pop3-server on 127.0.0.1, without TLS (the demo assumes no certificate tooling), with
 * one mailbox and its sample mail. Real mailboxes are reached over TLS.
 */
import { randomBytes } from 'node:crypto';
import { startFakePop3, type FakeMessage, type FakePop3Server } from './pop3-server/fake-pop3-server';

export interface DemoPop3ServerOptions {
  /** @default 'inbox@demo.mailfetch.invalid' */
  readonly username?: string;
  /** @default a random one */
  readonly password?: string;
  /** The mailbox's messages at start. @default none */
  readonly messages?: readonly FakeMessage[];
}

export interface DemoPop3Server {
  readonly host: '127.0.0.1';
  readonly port: number;
  readonly username: string;
  readonly password: string;
  /** Messages currently in the mailbox (DELE + QUIT removes them). */
  readonly messageCount: number;
  /** New mail arrives: appended to the mailbox, visible to the next session. */
  deliver(messages: readonly FakeMessage[]): void;
  close(): Promise<void>;
}

/** What the demo server announces: a typical modern server, minus STLS (no TLS here). */
const DEMO_CAPABILITIES = ['TOP', 'UIDL', 'USER', 'RESP-CODES', 'PIPELINING', 'AUTH-RESP-CODE', 'SASL PLAIN LOGIN CRAM-MD5', 'IMPLEMENTATION mailfetch-demo'];
const DEMO_USERNAME = 'inbox@demo.mailfetch.invalid';
/** 18 random bytes: a password nobody types, shown nowhere. */
const DEMO_PASSWORD_BYTES = 18;

export async function startDemoPop3Server(options: DemoPop3ServerOptions = {}): Promise<DemoPop3Server> {
  const username = options.username ?? DEMO_USERNAME;
  const password = options.password ?? randomBytes(DEMO_PASSWORD_BYTES).toString('base64url');
  const server: FakePop3Server = await startFakePop3({
    user: username,
    password,
    messages: [...(options.messages ?? [])],
    capabilities: DEMO_CAPABILITIES,
    greeting: `+OK mailfetch demo POP3 server ready <${process.pid}.${Date.now()}@demo.mailfetch.invalid>`,
  });
  return {
    host: server.host,
    port: server.port,
    username,
    password,
    get messageCount() {
      return server.messages.length;
    },
    deliver: (messages) => server.addMessages([...messages]),
    close: () => server.close(),
  };
}
