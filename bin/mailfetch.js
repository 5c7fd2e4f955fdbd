#!/usr/bin/env node
// The `mailfetch` command. The published package (which ships no TypeScript) runs the
// compiled dist/cli/mailfetch.mjs (scripts/build.ts). A working copy of the repository
// runs its TypeScript sources through tsx: no build step, and never a stale build.
import { existsSync } from 'node:fs';
import { URL } from 'node:url';

const sources = new URL('./mailfetch-cli.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import('../dist/cli/mailfetch.mjs');
}
