/**
 * The production dependency tree holds no test emulator and none of the packages s3rver
 * pulled in (`npm audit` is the fuller check; this one runs without the registry).
 */
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { findKnownBad } from '../../scripts/check-production-deps';

const REPO = resolve(import.meta.dirname, '../..');
const SCRIPT = resolve(REPO, 'scripts/check-production-deps.ts');
/** npm ls walks the whole tree: seconds on a busy machine. */
const NPM_LS_TIMEOUT_MS = 60_000;

describe('production dependencies', () => {
  it('npm ls --omit=dev holds no s3rver, koa, busboy/dicer or fast-xml-parser < 4', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', SCRIPT], { cwd: REPO });
    expect(stdout).toMatch(/^production dependencies: none of s3rver, koa/);
  }, NPM_LS_TIMEOUT_MS);

  it('finds a known-bad package anywhere in a tree, by version where only old ones are bad', () => {
    const tree = {
      dependencies: {
        dynalite: { version: '4.0.0', dependencies: { level: { version: '10.0.0' } } },
        s3rver: {
          version: '3.7.1',
          dependencies: { busboy: { version: '0.3.1', dependencies: { dicer: { version: '0.3.0' } } }, 'fast-xml-parser': { version: '3.21.1' } },
        },
        '@aws-sdk/xml-builder': { version: '3.0.0', dependencies: { 'fast-xml-parser': { version: '5.2.5' }, busboy: { version: '1.6.0' } } },
      },
    };
    expect(findKnownBad(tree).map((f) => f.path)).toEqual([
      's3rver@3.7.1',
      's3rver@3.7.1 > busboy@0.3.1',
      's3rver@3.7.1 > busboy@0.3.1 > dicer@0.3.0',
      's3rver@3.7.1 > fast-xml-parser@3.21.1',
    ]);
  });
});
