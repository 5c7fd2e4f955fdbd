/**
 * The `mailfetch` command's entry: the package build compiles it to dist/cli/mailfetch.mjs
 * (which the published bin/mailfetch.js runs); in the repository bin/mailfetch.js runs it from the sources.
 */
import { main } from '../lambda/cli/main';

await main();
