#!/usr/bin/env node
// The `mailfetch` command in the repository (`npm run mailfetch`, `npm run demo`, the CLI
// tests): runs the TypeScript sources through tsx, no build step. The published package's
// command is the compiled dist/cli/mailfetch.mjs (scripts/build.ts).
import { register } from 'tsx/esm/api';

register();
await import('./mailfetch-cli.ts');
