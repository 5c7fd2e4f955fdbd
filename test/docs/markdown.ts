/**
 * Just enough Markdown for the documentation tests: the user-facing files, their headings
 * as GitHub anchors, their links, and their fenced code blocks. Fenced blocks are never
 * prose: a `# comment` in a shell block is no heading and a `[x](y)` in one no link.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname, '../..');

/** README.md and docs/*.md, relative to the repository. */
export function documentationFiles(): string[] {
  const docs = readdirSync(join(REPO, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`);
  return ['README.md', ...docs.sort()];
}

export function readDoc(path: string): string {
  return readFileSync(join(REPO, path), 'utf8');
}

export interface Line {
  readonly number: number;
  readonly text: string;
}

const FENCE = /^\s*(```|~~~)/;

/** Lines outside fenced code blocks, numbered from 1. */
export function proseLines(markdown: string): Line[] {
  const lines: Line[] = [];
  let fence: string | undefined;
  markdown.split('\n').forEach((text, index) => {
    const open = FENCE.exec(text)?.[1];
    if (open !== undefined && (fence === undefined || fence === open)) {
      fence = fence === undefined ? open : undefined;
    } else if (fence === undefined) {
      lines.push({ number: index + 1, text });
    }
  });
  return lines;
}

/** The contents of the fenced blocks whose info string is one of `languages`. */
export function fencedBlocks(markdown: string, languages: readonly string[]): Line[][] {
  const blocks: Line[][] = [];
  let current: Line[] | undefined;
  let inOther = false;
  markdown.split('\n').forEach((text, index) => {
    const fence = /^\s*```\s*(\S*)/.exec(text);
    if (fence) {
      if (current) {
        blocks.push(current);
        current = undefined;
      } else if (inOther) {
        inOther = false;
      } else if (languages.includes(fence[1]!)) {
        current = [];
      } else {
        inOther = true;
      }
    } else {
      current?.push({ number: index + 1, text });
    }
  });
  return blocks;
}

/** GitHub's anchor for a heading's text (github-slugger: lower case, punctuation dropped, spaces to hyphens). */
export function slug(heading: string): string {
  return heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor the file's headings get on GitHub; repeated headings get `-1`, `-2`, ... */
export function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const { text } of proseLines(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(text);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

export interface Link extends Line {
  readonly target: string;
}

/** Character ranges of the inline code spans of one line. */
function codeSpans(text: string): Array<[number, number]> {
  const spans: Array<[number, number]> = [];
  for (const m of text.matchAll(/(`+)[^`]*?\1/g)) spans.push([m.index, m.index + m[0].length]);
  return spans;
}

/** Inline links and images outside code: `[text](target)`, `![alt](target)`. */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  for (const { number, text } of proseLines(markdown)) {
    const spans = codeSpans(text);
    for (const m of text.matchAll(/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      if (spans.some(([start, end]) => m.index >= start && m.index < end)) continue;
      found.push({ number, text, target: m[1]! });
    }
  }
  return found;
}
