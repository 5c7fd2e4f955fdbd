/**
 * Every relative link in README.md and docs/*.md leads somewhere: the file exists, and an
 * `#anchor` names a heading of the file it points into. Sections move between the README
 * and docs/ (issue 10); this keeps the links that point at them honest.
 */
import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { anchors, documentationFiles, links, readDoc, REPO, slug } from './markdown';

/** http:, https:, mailto:: not checked here (no network in tests). */
const EXTERNAL = /^[a-z][a-z0-9+.-]*:/i;

/** Problems with one file's links, as `file:line target: why`. */
function brokenLinks(file: string): string[] {
  const problems: string[] = [];
  for (const link of links(readDoc(file))) {
    if (EXTERNAL.test(link.target)) continue;
    const [path, anchor] = link.target.split('#', 2) as [string, string | undefined];
    const target = path === '' ? file : relative(REPO, join(dirname(join(REPO, file)), decodeURI(path)));
    const where = `${file}:${link.number} ${link.target}`;
    if (target.startsWith('..') || !existsSync(join(REPO, target))) {
      problems.push(`${where}: no file ${target}`);
    } else if (anchor !== undefined) {
      if (!target.endsWith('.md')) problems.push(`${where}: an anchor into a file that is not Markdown`);
      else if (!anchors(readDoc(target)).has(anchor)) problems.push(`${where}: no heading "${anchor}" in ${target}`);
    }
  }
  return problems;
}

describe('documentation links', () => {
  it.each(documentationFiles())('%s: every relative link and anchor resolves', (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });

  it('finds the links and headings it checks', () => {
    const readme = readDoc('README.md');
    expect(links(readme).map((l) => l.target)).toContain('docs/testing.md');
    expect(anchors(readme)).toContain('stack-outputs');
    // A `#` comment in a shell block is no heading.
    expect(anchors(readme)).not.toContain('the-secrets-the-configuration-references-values-from-files-not-the-shell-history');
  });

  it('spells anchors as GitHub does', () => {
    expect(slug('`MailFetcher` props')).toBe('mailfetcher-props');
    expect(slug("The worker's event")).toBe('the-workers-event');
    expect(slug('Microsoft 365 (app-only OAuth, `client_credentials`)')).toBe('microsoft-365-app-only-oauth-client_credentials');
    expect(slug('One run, step by step')).toBe('one-run-step-by-step');
  });
});
