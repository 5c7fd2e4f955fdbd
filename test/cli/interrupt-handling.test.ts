/**
 * The pieces of Ctrl-C handling and `unlock` that need no process: the first signal aborts,
 * the second runs the cleanups and exits, a third does not wait; and which leases unlock
 * releases without --force.
 */
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { CliIo, InterruptSignal, SignalSource } from '../../lambda/cli/cli-io';
import { listenForInterrupts } from '../../lambda/cli/interrupt';
import { releasable } from '../../lambda/cli/unlock-command';

class FakeSignals extends EventEmitter implements SignalSource {
  readonly exits: number[] = [];
  override on(signal: InterruptSignal, listener: () => void): this {
    return super.on(signal, listener);
  }
  override off(signal: InterruptSignal, listener: () => void): this {
    return super.off(signal, listener);
  }
  exit(code: number): void {
    this.exits.push(code);
  }
}

function io(signals: SignalSource): CliIo & { err: string[] } {
  const err: string[] = [];
  return { stdout: { write: () => {}, isTTY: false }, stderr: { write: (t) => void err.push(t), isTTY: false }, env: {}, cwd: '/', signals, err };
}

describe('listenForInterrupts', () => {
  it('first SIGINT aborts and says so; the second runs the cleanups, then exits 130', async () => {
    const signals = new FakeSignals();
    const out = io(signals);
    const interrupt = listenForInterrupts(out);
    let cleaned = 0;
    interrupt.beforeForcedExit(async () => void cleaned++);
    const unregistered = interrupt.beforeForcedExit(async () => void (cleaned += 100));
    unregistered();
    expect(interrupt.exitCode()).toBeUndefined();

    signals.emit('SIGINT');
    expect(interrupt.signal.aborted).toBe(true);
    expect(interrupt.exitCode()).toBe(130);
    expect(out.err.join('')).toContain('interrupted (SIGINT)');
    expect(signals.exits).toEqual([]);

    signals.emit('SIGINT');
    await new Promise((r) => setImmediate(r));
    expect(cleaned).toBe(1);
    expect(signals.exits).toEqual([130]);
    interrupt.dispose();
    expect(signals.listenerCount('SIGINT') + signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('SIGTERM exits 143; a third signal exits without waiting for a hanging cleanup', async () => {
    const signals = new FakeSignals();
    const interrupt = listenForInterrupts(io(signals));
    interrupt.beforeForcedExit(() => new Promise(() => {}));
    signals.emit('SIGTERM');
    expect(interrupt.exitCode()).toBe(143);
    signals.emit('SIGINT');
    signals.emit('SIGINT');
    expect(signals.exits).toEqual([143]);
    interrupt.dispose();
  });
});

describe('unlock: releasable without --force', () => {
  const NOW = 1_000_000;
  const lease = (holder?: { description: string; host?: string; pid?: number }, expiresAtMs = NOW + 60_000) => ({ owner: 'o', expiresAtMs, ...(holder ? { holder } : {}) });

  it('an expired lease, or a holder on this host whose process is gone', () => {
    expect(releasable(lease(undefined, NOW - 1), NOW, 'here')).toMatchObject({ ok: true, reason: expect.stringContaining('expired') });
    // A pid no process has: above the kernel's pid_max.
    expect(releasable(lease({ description: 'd', host: 'here', pid: 2 ** 30 }), NOW, 'here')).toMatchObject({ ok: true, reason: `process ${2 ** 30} no longer runs on this host` });
  });

  it('not a live process on this host, another host, Lambda, or a lease that does not say', () => {
    expect(releasable(lease({ description: 'd', host: 'here', pid: process.ppid }), NOW, 'here')).toMatchObject({ ok: false, reason: expect.stringContaining(`process ${process.ppid} still runs`) });
    expect(releasable(lease({ description: 'd', host: 'elsewhere', pid: 1 }), NOW, 'here')).toMatchObject({ ok: false, reason: expect.stringContaining('it runs on elsewhere') });
    expect(releasable(lease({ description: 'Lambda request 1' }), NOW, 'here')).toMatchObject({ ok: false, reason: expect.stringContaining('does not run on this host') });
    expect(releasable(lease(), NOW, 'here')).toMatchObject({ ok: false, reason: expect.stringContaining('does not say who holds it') });
  });
});
