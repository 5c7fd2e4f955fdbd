#!/usr/bin/env node
// The `mailfetch` command: runs the TypeScript sources through tsx, no build step.
// The command line itself is lambda/cli/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../lambda/cli/main.ts');
await main();
