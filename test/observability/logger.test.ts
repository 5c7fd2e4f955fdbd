/**
 * Log lines: JSON for machines (Lambda, pipes, --json), text for a person on a terminal;
 * both scrubbed the same way, so no credential reaches either.
 */
import { describe, expect, it } from 'vitest';
import type { CliIo } from '../../lambda/cli/cli-io';
import { createCliLogger } from '../../lambda/cli/setup';
import { createLogger } from '../../lambda/observability/logger';

const at = (): Date => new Date('2026-12-06T10:11:12.345Z');

describe('logger', () => {
  it('writes JSON lines with the base fields, secrets replaced', () => {
    const lines: string[] = [];
    const log = createLogger({ mailbox: 'box' }, { level: 'debug', now: at, write: (l) => lines.push(l) });

    log.debug('pop3', { command: 'PASS', password: 'hunter2' });

    expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual([{ level: 'debug', timestamp: '2026-12-06T10:11:12.345Z', message: 'pop3', mailbox: 'box', command: 'PASS', password: '***' }]);
  });

  it('writes text for a person: time, level, [mailbox], message, fields; secrets replaced; children keep the format', () => {
    const lines: string[] = [];
    const log = createLogger({ mailbox: 'box' }, { level: 'info', now: at, write: (l) => lines.push(l), format: 'text' });

    log.info('stored', { uid: 'abc', size: 1024, subject: 'two words', token: 'eyJ-secret' });
    log.child({ session: 2 }).warn('slow server', { ms: 5000 });
    log.debug('not shown');

    expect(lines).toEqual([
      '10:11:12.345 info  [box] stored uid=abc size=1024 subject="two words" token=***',
      '10:11:12.345 warn  [box] slow server session=2 ms=5000',
    ]);
    expect(lines.join('\n')).not.toContain('eyJ-secret');
  });

  it('the CLI: text on a terminal, JSON with --json or when stderr is not a terminal', () => {
    const io = (isTTY: boolean): CliIo & { written: string[] } => {
      const written: string[] = [];
      return { written, env: {}, cwd: '/', stdout: { isTTY, write: () => {} }, stderr: { isTTY, write: (t: string) => void written.push(t) } };
    };
    const terminal = io(true);
    const piped = io(false);
    const terminalJson = io(true);

    createCliLogger(terminal, true, { mailbox: 'box' }).debug('hello');
    createCliLogger(piped, true, { mailbox: 'box' }).debug('hello');
    createCliLogger(terminalJson, true, { mailbox: 'box' }, true).debug('hello');

    expect(terminal.written[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{3} debug \[box\] hello\n$/);
    expect(JSON.parse(piped.written[0]!)).toMatchObject({ level: 'debug', message: 'hello', mailbox: 'box' });
    expect(JSON.parse(terminalJson.written[0]!)).toMatchObject({ level: 'debug', message: 'hello' });
  });
});
