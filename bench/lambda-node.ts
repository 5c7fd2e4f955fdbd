/**
 * The Node the bench measures on: the Lambda runtime's (FETCH_BUNDLE.target, node22), not
 * whatever this machine has first on its PATH. CPU per message, cold module load and the
 * engine's pace all depend on the V8 that runs them (Node 22's compiles hot code more
 * cheaply than Node 20's), and a figure meant for Lambda is only meaningful on Lambda's
 * major version. scripts/install-lambda-node.sh (which install-bench-tools.sh and CI run)
 * puts that Node under `.lambda-node/`, from the npm registry's `node-linux-<arch>` package;
 * `npm run bench` re-runs itself under it, so every Node process it starts (worker, engine,
 * reference client, SDK floor, cold load) inherits it through `process.execPath`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FETCH_BUNDLE } from '../lib/bundling';

const ROOT = resolve(import.meta.dirname, '..');

/** The Lambda runtime's Node major version (22 for `node22`). */
export const LAMBDA_NODE_MAJOR = Number(FETCH_BUNDLE.target.replace(/^node/, ''));
/** The exact release installed (scripts/lambda-node-version, which the install script reads too). */
export const LAMBDA_NODE_VERSION = readFileSync(join(ROOT, 'scripts', 'lambda-node-version'), 'utf8').trim();

/** Where scripts/install-lambda-node.sh puts that release. */
export function lambdaNodePath(): string {
  return join(ROOT, '.lambda-node', `node-v${LAMBDA_NODE_VERSION}`, 'bin', 'node');
}

/** Whether this process already runs on the Lambda runtime's major version. */
export function onLambdaNode(): boolean {
  return Number(process.versions.node.split('.')[0]) === LAMBDA_NODE_MAJOR;
}

/**
 * Runs this same command under the Lambda runtime's Node when this process is on another
 * major version and that Node is installed, and exits with its status. Returns (and the
 * bench goes on here) when this Node is already the right one, or a warning when it is not
 * installed.
 */
export function reRunOnLambdaNode(warn: (line: string) => void): void {
  if (onLambdaNode()) return;
  const node = lambdaNodePath();
  if (!existsSync(node)) {
    warn(`measuring on Node ${process.version}; Lambda runs Node ${LAMBDA_NODE_MAJOR}: run scripts/install-lambda-node.sh (or install-bench-tools.sh) to measure on it`);
    return;
  }
  const run = spawnSync(node, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  process.exit(run.status ?? 1);
}
