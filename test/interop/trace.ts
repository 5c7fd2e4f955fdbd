/**
 * Reads the engine's protocol trace (command and status lines, secrets redacted) back into
 * per-session facts the matrix asserts on: was STLS used, which login command, and how many
 * commands were in flight at once before and after login (more than one = pipelined).
 */
import type { TraceEvent } from '../../lambda/pop3';

export interface SessionFacts {
  readonly greeting: string;
  readonly stls: boolean;
  /** The command that logged in: `USER`, `APOP` or `AUTH <mechanism>`. */
  readonly login: string | undefined;
  /** Commands awaiting their reply at once, at most, before the login reply arrived. */
  readonly maxInFlightBeforeLogin: number;
  readonly maxInFlightAfterLogin: number;
  readonly commands: readonly string[];
}

/** A login command; a bare `AUTH` only lists the mechanisms. */
const LOGIN_COMMAND = /^(PASS|APOP|AUTH \S)/;

export class TraceRecorder {
  readonly events: TraceEvent[] = [];
  readonly sink = (event: TraceEvent): void => void this.events.push(event);

  /** The conversation as text, for failure messages. */
  toString(): string {
    return this.events.map((e) => `${e.direction === 'client' ? 'C' : 'S'}: ${e.line}`).join('\n');
  }

  sessions(): SessionFacts[] {
    const out: SessionFacts[] = [];
    let current: { greeting: string; stls: boolean; login?: string; loginSent: boolean; loggedIn: boolean; before: number; after: number; commands: string[] } | undefined;
    let inFlight = 0;
    const finish = (): void => {
      if (current) out.push({ greeting: current.greeting, stls: current.stls, login: current.login, maxInFlightBeforeLogin: current.before, maxInFlightAfterLogin: current.after, commands: current.commands });
    };
    for (const { direction, line } of this.events) {
      if (direction === 'server' && inFlight === 0) {
        // Nothing was asked: this is the greeting of a new session.
        finish();
        current = { greeting: line, stls: false, loginSent: false, loggedIn: false, before: 0, after: 0, commands: [] };
        continue;
      }
      if (!current) throw new Error(`trace starts with a ${direction} line: ${line}`);
      if (direction === 'client') {
        inFlight++;
        current.commands.push(line);
        if (line === 'STLS') current.stls = true;
        if (!current.loginSent && LOGIN_COMMAND.test(line)) {
          current.loginSent = true;
          current.login = line.startsWith('PASS') ? 'USER' : line.split(' ').slice(0, line.startsWith('AUTH') ? 2 : 1).join(' ');
        }
        if (current.loggedIn) current.after = Math.max(current.after, inFlight);
        else current.before = Math.max(current.before, inFlight);
      } else {
        inFlight--;
        if (current.loginSent && !current.loggedIn && line.startsWith('+OK')) current.loggedIn = true;
      }
    }
    finish();
    return out;
  }
}
