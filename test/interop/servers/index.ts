/** The servers of the interoperability matrix, and the CI-aware "may this server run?" check. */
import { courier } from './courier';
import { cyrus } from './cyrus';
import { dovecot } from './dovecot';
import { mailutils } from './mailutils';
import { popa3d } from './popa3d';
import type { ServerModule, ServerName } from './types';

export { courier, cyrus, dovecot, mailutils, popa3d };

export const SERVER_MODULES: readonly ServerModule<never>[] = [dovecot, mailutils, popa3d, courier, cyrus];

const warned = new Set<ServerName>();

/**
 * For `describe.skipIf(!requireServer(module))`: true if the server can run here. In CI a
 * server that cannot run is an error, never a silent skip; locally it is skipped with a
 * warning nobody can miss.
 */
export function requireServer(module: ServerModule<never>): boolean {
  const why = module.unavailable();
  if (why === undefined) return true;
  const { name, label } = module.profile;
  if (process.env.CI === 'true') {
    throw new Error(`interop: ${label} is required in CI but cannot run: ${why}`);
  }
  if (!warned.has(name)) {
    warned.add(name);
    warnLoudly(`SKIPPING every interop test of ${label}: ${why}\nInstall the servers with: scripts/install-interop-servers.sh`);
  }
  return false;
}

/** A warning framed so that nobody scrolling past the test output can miss it. */
export function warnLoudly(message: string): void {
  const bar = '!'.repeat(88);
  const lines = message.split('\n').map((line, i) => `!!! ${i === 0 ? 'WARNING: ' : ''}${line}`);
  console.warn(['', bar, ...lines, bar, ''].join('\n'));
}
