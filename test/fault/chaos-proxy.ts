/**
 * A loopback TCP proxy between the worker and a POP3 server that breaks connections on
 * purpose. Each accepted connection gets a plan (decided by the caller, usually from a
 * seeded PRNG):
 *
 * - pass: forward both ways untouched;
 * - fragment: forward, but split the first `forBytes` of server output into small random
 *   pieces, written with pauses between them (chunk boundaries anywhere);
 * - cut: after N bytes in one direction, drop the connection (FIN, or RST with `reset`);
 * - stall: after N bytes in one direction, forward nothing more while keeping the
 *   connection open: only the client's own timeouts can end it.
 *
 * With STLS the TLS records pass through opaquely, so a cut lands anywhere in the TLS
 * stream. In plain text (tls: 'none') the proxy can also watch the POP3 dialogue: it maps
 * message numbers to UIDLs from the UIDL reply and calls `onDele` for every DELE before
 * forwarding it, holding the command until the hook returns: the hook can check that the
 * message is stored and recorded at the very moment the server is told to delete it.
 */
import net from 'node:net';
import type { Prng } from './prng';

export type Direction = 'down' | 'up';

export type ConnectionPlan =
  | { readonly kind: 'pass' }
  | { readonly kind: 'fragment'; readonly maxChunk: number; readonly forBytes: number }
  | { readonly kind: 'cut'; readonly direction: Direction; readonly afterBytes: number; readonly reset: boolean }
  | { readonly kind: 'stall'; readonly direction: Direction; readonly afterBytes: number };

export interface ConnectionLog {
  readonly id: number;
  readonly plan: ConnectionPlan;
  /** Server -> client octets forwarded. */
  down: number;
  /** Client -> server octets forwarded. */
  up: number;
  /** What ended the connection. */
  outcome: 'open' | 'client-closed' | 'server-closed' | 'cut' | 'stalled-then-client-closed' | 'error';
  /** Plain text only: the client's command lines (PASS redacted), with the time they were forwarded. */
  readonly commands: { line: string; at: number }[];
}

export interface DeleEvent {
  readonly connection: number;
  readonly number: number;
  /** UIDL of the message number, as listed in this connection's UIDL reply (undefined if not seen). */
  readonly uid: string | undefined;
  readonly at: number;
}

export interface ChaosProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  /** Decides the fate of connection `id` (1, 2, ...). */
  readonly plan: (id: number) => ConnectionPlan;
  /** For fragment sizes. */
  readonly prng: Prng;
  /** Plain-text POP3 only: watch the dialogue. */
  readonly observe?: boolean;
  /** Called for each DELE before it is forwarded (observe only); the command waits for it. */
  readonly onDele?: (event: DeleEvent) => Promise<void> | void;
}

export class ChaosProxy {
  readonly connections: ConnectionLog[] = [];
  readonly deles: DeleEvent[] = [];
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private nextId = 0;
  port = 0;

  private constructor(private readonly options: ChaosProxyOptions) {
    this.server = net.createServer((client) => this.accept(client));
  }

  static async start(options: ChaosProxyOptions): Promise<ChaosProxy> {
    const proxy = new ChaosProxy(options);
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.port = (proxy.server.address() as net.AddressInfo).port;
    return proxy;
  }

  /** Connections still open (a finished run must leave none behind). */
  get open(): number {
    return this.connections.filter((c) => c.outcome === 'open').length;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): net.Socket {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => undefined); // resets are the point here
    return socket;
  }

  private accept(client: net.Socket): void {
    const id = ++this.nextId;
    const log: ConnectionLog = { id, plan: this.options.plan(id), down: 0, up: 0, outcome: 'open', commands: [] };
    this.connections.push(log);
    this.track(client).setNoDelay(true);
    client.pause();
    const upstream = this.track(net.connect(this.options.target));
    upstream.setNoDelay(true);
    new Link(id, log, client, upstream, this.options, this.deles).start();
  }
}

/** One proxied connection. */
class Link {
  private stalled = false;
  private finished = false;
  /** Client -> server bytes are processed in order, one chunk at a time (the DELE hook may wait). */
  private upChain: Promise<void> = Promise.resolve();
  /** Server -> client writes, serialised (fragmenting writes in pieces with pauses). */
  private downChain: Promise<void> = Promise.resolve();
  private readonly observer: Pop3Observer | undefined;
  private upLine: Buffer = Buffer.alloc(0);
  /** Server octets handed to the fragmenting writer so far. */
  private fragmented = 0;

  constructor(
    private readonly id: number,
    private readonly log: ConnectionLog,
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
    private readonly options: ChaosProxyOptions,
    private readonly deles: DeleEvent[],
  ) {
    this.observer = options.observe ? new Pop3Observer() : undefined;
  }

  start(): void {
    const { client, upstream } = this;
    upstream.once('connect', () => client.resume());
    upstream.on('data', (chunk: Buffer) => this.fromServer(chunk));
    client.on('data', (chunk: Buffer) => {
      client.pause();
      this.upChain = this.upChain.then(() => this.fromClient(chunk)).finally(() => {
        if (!this.finished && !client.destroyed) client.resume();
      });
    });
    upstream.once('close', () => {
      if (this.finished) return;
      if (this.stalled) return; // a stalled connection stays open until the client gives up
      this.finish('server-closed');
      void this.downChain.then(() => client.end());
    });
    upstream.once('error', () => undefined);
    client.once('close', () => {
      if (!this.finished) this.finish(this.stalled ? 'stalled-then-client-closed' : 'client-closed');
      upstream.destroy();
    });
  }

  private finish(outcome: ConnectionLog['outcome']): void {
    if (this.finished) return;
    this.finished = true;
    this.log.outcome = outcome;
  }

  // ---- server -> client -------------------------------------------------------------

  private fromServer(chunk: Buffer): void {
    if (this.finished || this.stalled) return;
    const plan = this.log.plan;
    let forward = chunk;
    let then: 'cut' | 'stall' | undefined;
    if ((plan.kind === 'cut' || plan.kind === 'stall') && plan.direction === 'down') {
      const room = plan.afterBytes - this.log.down;
      if (forward.length >= room) {
        forward = forward.subarray(0, Math.max(0, room));
        then = plan.kind;
      }
    }
    this.log.down += forward.length;
    this.observer?.serverBytes(forward);
    if (forward.length > 0) this.writeDown(forward);
    if (then === 'stall') this.stall();
    else if (then === 'cut') this.cut(plan.kind === 'cut' && plan.reset);
  }

  private writeDown(data: Buffer): void {
    const plan = this.log.plan;
    if (plan.kind !== 'fragment' || this.fragmented >= plan.forBytes) {
      if (plan.kind === 'fragment') {
        // Past the fragmented start: keep the order behind pieces still being written.
        this.upstream.pause();
        this.downChain = this.downChain.then(async () => {
          if (!this.client.write(data)) await new Promise<void>((resolve) => this.client.once('drain', resolve).once('close', resolve));
          if (!this.finished) this.upstream.resume();
        });
        return;
      }
      if (!this.client.write(data)) {
        this.upstream.pause();
        this.client.once('drain', () => this.upstream.resume());
      }
      return;
    }
    this.upstream.pause();
    this.downChain = this.downChain.then(async () => {
      this.fragmented += data.length;
      for (let i = 0; i < data.length && !this.client.destroyed; ) {
        const n = this.options.prng.int(1, plan.maxChunk);
        await new Promise<void>((resolve) => this.client.write(data.subarray(i, i + n), () => resolve()));
        await new Promise<void>((resolve) => setImmediate(resolve));
        i += n;
      }
      if (!this.finished) this.upstream.resume();
    });
  }

  // ---- client -> server -------------------------------------------------------------

  private async fromClient(chunk: Buffer): Promise<void> {
    if (this.finished || this.stalled) return;
    if (!this.observer) return this.forwardUp(chunk);
    // Plain-text POP3: forward whole lines, so a DELE can be held while it is checked.
    let data = this.upLine.length > 0 ? Buffer.concat([this.upLine, chunk]) : chunk;
    for (let nl = data.indexOf(0x0a); nl !== -1 && !this.finished && !this.stalled; nl = data.indexOf(0x0a)) {
      const line = data.subarray(0, nl + 1);
      data = data.subarray(nl + 1);
      const command = this.observer.clientLine(line);
      if (command?.verb === 'DELE' && command.number !== undefined) {
        const event: DeleEvent = { connection: this.id, number: command.number, uid: this.observer.uidOf(command.number), at: Date.now() };
        await this.options.onDele?.(event);
        if (this.finished) return;
        this.deles.push({ ...event, at: Date.now() });
      }
      if (command) this.log.commands.push({ line: command.shown, at: Date.now() });
      this.forwardUp(line);
    }
    this.upLine = Buffer.from(data);
  }

  private forwardUp(data: Buffer): void {
    if (this.finished || this.stalled) return;
    const plan = this.log.plan;
    let forward = data;
    let then: 'cut' | 'stall' | undefined;
    if ((plan.kind === 'cut' || plan.kind === 'stall') && plan.direction === 'up') {
      const room = plan.afterBytes - this.log.up;
      if (forward.length >= room) {
        forward = forward.subarray(0, Math.max(0, room));
        then = plan.kind;
      }
    }
    this.log.up += forward.length;
    if (forward.length > 0) this.upstream.write(forward);
    if (then === 'stall') this.stall();
    else if (then === 'cut') this.cutUp(plan.kind === 'cut' && plan.reset);
  }

  // ---- faults -----------------------------------------------------------------------

  private stall(): void {
    this.stalled = true;
    // Nothing more is forwarded; both sockets stay open until the client closes.
  }

  /** Drops the client side after what was forwarded, and the server side at once. */
  private cut(reset: boolean): void {
    this.finish('cut');
    void this.downChain.then(() => {
      if (reset) this.client.write(Buffer.alloc(0), () => this.client.resetAndDestroy());
      else this.client.end();
      this.upstream.destroy();
    });
  }

  /** The server gets what was forwarded, then end of input; the client sees the connection drop. */
  private cutUp(reset: boolean): void {
    this.finish('cut');
    this.upstream.end();
    if (reset) this.client.resetAndDestroy();
    else this.client.destroy();
  }
}

/** Multi-line replies (RFC 1939): these verbs, when +OK and (for UIDL/LIST) without argument. */
function isMultiline(verb: string, args: string[]): boolean {
  if (verb === 'CAPA' || verb === 'RETR' || verb === 'TOP') return true;
  return (verb === 'UIDL' || verb === 'LIST') && args.length === 0;
}

interface PendingCommand {
  readonly verb: string;
  readonly multiline: boolean;
}

/**
 * Follows a plain-text POP3 dialogue from both sides: commands in order, replies in the
 * same order (pipelining keeps the order), UIDL listings collected.
 */
class Pop3Observer {
  private readonly pending: PendingCommand[] = [];
  private greeted = false;
  private inBody = false;
  private saslNext = false;
  private partial: Buffer = Buffer.alloc(0);
  private readonly uids = new Map<number, string>();

  uidOf(n: number): string | undefined {
    return this.uids.get(n);
  }

  clientLine(raw: Buffer): { verb: string; number: number | undefined; shown: string } | undefined {
    const text = raw.toString('latin1').replace(/\r?\n$/, '');
    if (this.saslNext) {
      this.saslNext = false;
      return { verb: '', number: undefined, shown: '(sasl)' };
    }
    const [verbRaw = '', ...args] = text.split(' ').filter(Boolean);
    const verb = verbRaw.toUpperCase();
    this.pending.push({ verb, multiline: isMultiline(verb, args) });
    const n = Number(args[0]);
    return { verb, number: Number.isSafeInteger(n) ? n : undefined, shown: verb === 'PASS' ? 'PASS ***' : text };
  }

  serverBytes(chunk: Buffer): void {
    let data = this.partial.length > 0 ? Buffer.concat([this.partial, chunk]) : chunk;
    for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a)) {
      const end = nl > 0 && data[nl - 1] === 0x0d ? nl - 1 : nl;
      this.serverLine(data.subarray(0, end));
      data = data.subarray(nl + 1);
    }
    // Only a line start is kept (message bodies can be large; their lines are skipped as they come).
    this.partial = Buffer.from(data.subarray(0, Math.min(data.length, 1024)));
  }

  private serverLine(line: Buffer): void {
    if (!this.greeted) {
      this.greeted = true;
      return;
    }
    const current = this.pending[0];
    if (!current) return;
    if (this.inBody) {
      if (line.length === 1 && line[0] === 0x2e) {
        this.inBody = false;
        this.pending.shift();
        return;
      }
      if (current.verb === 'UIDL') {
        const m = /^\s*(\d+)\s+(\S+)/.exec(line.toString('latin1'));
        if (m) this.uids.set(Number(m[1]), m[2]!);
      }
      return;
    }
    const s = line.toString('latin1');
    if (s === '+' || s.startsWith('+ ')) {
      this.saslNext = true; // a SASL challenge: the client's next line is its answer
      return;
    }
    if (/^\+OK/i.test(s) && current.multiline) {
      this.inBody = true;
      return;
    }
    this.pending.shift();
  }
}
