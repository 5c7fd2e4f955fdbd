/**
 * Helper process for lifecycle.test.ts: starts one server, prints its work dir as a JSON
 * line, then waits to be killed (by SIGKILL, so no clean-up code of ours runs).
 */
import { SERVER_MODULES } from './index';

const module = SERVER_MODULES.find((m) => m.profile.name === process.argv[2]);
if (!module) throw new Error(`unknown server ${process.argv[2]}`);
const server = await module.start();
process.stdout.write(`${JSON.stringify({ workDir: server.workDir })}\n`);
setInterval(() => undefined, 60_000);
