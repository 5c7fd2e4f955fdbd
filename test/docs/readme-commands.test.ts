/**
 * Every `npx mailfetch ...` line in the shell blocks of README.md and docs/*.md names a real
 * command and only flags it accepts: the line is run with `--help` added, which parses every
 * flag (an unknown one is a usage error, exit 2) and then prints help instead of running.
 */
import { describe, expect, it } from 'vitest';
import type { CliIo, OutputStream } from '../../lambda/cli/cli-io';
import { runCli } from '../../lambda/cli/main';
import { documentationFiles, fencedBlocks, readDoc, REPO } from './markdown';

interface CommandLine {
  readonly where: string;
  readonly argv: string[];
}

/** Where a command's own arguments end on a shell line: a comment, a pipe, a redirection, a list. */
const ARGUMENTS_END = /\s(?:#|\||<|>|;|&&)/;

/** Splits a shell word list, honouring single and double quotes. */
function words(text: string): string[] {
  return [...text.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

function mailfetchLines(file: string): CommandLine[] {
  const found: CommandLine[] = [];
  for (const block of fencedBlocks(readDoc(file), ['sh', 'bash', 'shell'])) {
    for (const { number, text } of block) {
      const start = text.indexOf('npx mailfetch ');
      if (start < 0 || text.trimStart().startsWith('#')) continue;
      const rest = text.slice(start + 'npx mailfetch '.length);
      const end = ARGUMENTS_END.exec(` ${rest}`);
      found.push({ where: `${file}:${number}`, argv: words(end ? rest.slice(0, end.index - 1) : rest) });
    }
  }
  return found;
}

const silent: OutputStream = { write: () => undefined, isTTY: false };

function helpIo(stderr: string[]): CliIo {
  return { stdout: silent, stderr: { write: (text) => void stderr.push(text), isTTY: false }, env: {}, cwd: REPO };
}

const commandLines = documentationFiles().flatMap(mailfetchLines);

describe('mailfetch command lines in the documentation', () => {
  it('finds the README quick tour', () => {
    const tour = commandLines.filter((c) => c.where.startsWith('README.md')).map((c) => c.argv.slice(0, 2).join(' '));
    expect(tour).toEqual(expect.arrayContaining(['init --host', 'mailboxes add', 'check', 'fetch', 'mailboxes status']));
  });

  it.each(commandLines.map((c) => [c.where, c.argv.join(' '), c.argv] as const))('%s: mailfetch %s parses', async (_where, _line, argv) => {
    const stderr: string[] = [];
    const code = await runCli([...argv, '--help'], helpIo(stderr));
    expect({ code, stderr: stderr.join('') }).toEqual({ code: 0, stderr: '' });
  });
});
