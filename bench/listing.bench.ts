/**
 * A 1,000,000-entry UIDL + LIST through the real client over loopback, read as the sync
 * reads them (client.uidl() and client.listSizes(), see lambda/sync/read-listing.ts): CPU
 * and peak RSS of the process that parses them. The server is a few lines of raw TCP answering from two
 * prebuilt buffers (it runs in a child process, so its memory and CPU are not counted).
 *
 * Run alone: node --import tsx bench/listing.bench.ts [entries]
 */
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { openSession } from '../lambda/pop3';

const DEFAULT_ENTRIES = 1_000_000;

export interface ListingFigures {
  readonly entries: number;
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly peakRssMb: number;
  readonly baselineRssMb: number;
}

/** The server side: one session, USER/PASS, UIDL and LIST from buffers, QUIT. */
function serve(entries: number): void {
  const lines = (f: (i: number) => string): Buffer => {
    const parts: string[] = ['+OK\r\n'];
    for (let i = 1; i <= entries; i++) parts.push(f(i));
    parts.push('.\r\n');
    return Buffer.from(parts.join(''), 'latin1');
  };
  const uidl = lines((i) => `${i} 1a2b3c4d5e6f${i.toString(16).padStart(8, '0')}\r\n`);
  const list = lines((i) => `${i} ${10_000 + (i % 9973)}\r\n`);
  const server = net.createServer((socket) => {
    socket.write('+OK ready\r\n');
    let pending = '';
    socket.on('data', (chunk) => {
      pending += chunk.toString('latin1');
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const verb = pending.slice(0, nl).trim().split(' ')[0]!.toUpperCase();
        pending = pending.slice(nl + 1);
        if (verb === 'UIDL') socket.write(uidl);
        else if (verb === 'LIST') socket.write(list);
        else if (verb === 'CAPA') socket.write('+OK\r\nUSER\r\nUIDL\r\n.\r\n');
        else if (verb === 'QUIT') socket.end('+OK bye\r\n');
        else socket.write('+OK\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as net.AddressInfo).port));
}

export async function measureListing(entries = DEFAULT_ENTRIES): Promise<ListingFigures> {
  // The server is this file again: TypeScript when run with tsx, the bundle when bundled.
  const execArgv = import.meta.filename.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = fork(import.meta.filename, ['--serve', String(entries)], { execArgv, stdio: 'inherit' });
  try {
    const port = await new Promise<number>((resolve) => child.once('message', (m) => resolve(m as number)));
    global.gc?.();
    const baselineRssMb = process.memoryUsage().rss / 2 ** 20;
    const cpu = process.cpuUsage();
    const started = performance.now();
    const session = await openSession({ host: '127.0.0.1', port, tls: 'none', allowPlaintextAuth: true, username: 'u', password: 'p', auth: 'USER' });
    // What the sync reads (lambda/sync/read-listing.ts): the compact listing and sizes.
    const [uidl, sizes] = await Promise.all([session.uidl(), session.listSizes()]);
    await session.quit();
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    if (uidl.length !== entries || sizes.size !== entries) throw new Error(`listed ${uidl.length}/${sizes.size} of ${entries}`);
    return { entries, cpuMs: (used.user + used.system) / 1000, wallMs, peakRssMb: vmHwmKb() / 1024, baselineRssMb };
  } finally {
    child.kill();
  }
}

/**
 * This process's peak resident set (VmHWM), in KiB. Not getrusage's maxRSS: Linux carries
 * that across fork and exec, so a process started by a larger one (the bench runner, about
 * 200 MB) reports its parent's peak, not its own.
 */
function vmHwmKb(): number {
  const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (match === null) throw new Error('no VmHWM in /proc/self/status: peak RSS cannot be measured here');
  return Number(match[1]);
}

if (process.argv[2] === '--serve') serve(Number(process.argv[3]));
else if (import.meta.filename === process.argv[1]) {
  const figures = await measureListing(Number(process.argv[2] ?? DEFAULT_ENTRIES));
  console.log(JSON.stringify(figures));
}
