/**
 * Uses of the POP3 engine's protocol trace (lines already redacted by the engine:
 * `PASS ***`, `AUTH PLAIN ***`): debug logging with --verbose, and telling which
 * authentication mechanism a session used and how the server answered it.
 */
import type { Logger } from '../observability/logger';
import type { TraceEvent } from '../pop3';

/** Logs every protocol line at debug level (message bodies are never traced). */
export function protocolTrace(log: Logger): (event: TraceEvent) => void {
  return (event) => log.debug('pop3', { direction: event.direction, line: event.line });
}

export type AuthOutcome = 'ok' | 'failed' | 'not attempted';

/**
 * Watches a session's trace for the login: the mechanism is the verb of the first login
 * command (USER for USER/PASS, APOP, or the SASL mechanism of AUTH), and the outcome is
 * the server's final reply to it (+OK or -ERR; SASL challenges in between are skipped).
 */
export class AuthObserver {
  private mechanismName: string | undefined;
  private awaiting: 'none' | 'user' | 'final' = 'none';
  private result: AuthOutcome = 'not attempted';

  readonly onTrace = (event: TraceEvent): void => {
    if (event.direction === 'client') return this.onClientLine(event.line);
    if (this.awaiting === 'none') return;
    const ok = /^\+OK\b/i.test(event.line);
    const err = /^-ERR\b/i.test(event.line);
    if (!ok && !err) return; // a SASL challenge
    if (this.awaiting === 'user' && ok) return; // USER accepted; PASS decides
    this.result = ok ? 'ok' : 'failed';
    this.awaiting = 'none';
  };

  get mechanism(): string | undefined {
    return this.mechanismName;
  }

  get outcome(): AuthOutcome {
    return this.result;
  }

  private onClientLine(line: string): void {
    const [verb = '', arg] = line.split(' ');
    switch (verb.toUpperCase()) {
      case 'USER':
        this.begin('USER', 'user');
        break;
      case 'PASS':
        this.awaiting = 'final';
        break;
      case 'APOP':
        this.begin('APOP', 'final');
        break;
      case 'AUTH':
        // A bare AUTH only lists the mechanisms (asked of servers without CAPA).
        if (arg !== undefined) this.begin(arg.toUpperCase(), 'final');
        break;
      default:
    }
  }

  private begin(mechanism: string, awaiting: 'user' | 'final'): void {
    this.mechanismName = mechanism;
    this.awaiting = awaiting;
    this.result = 'failed'; // until the server says +OK
  }
}
