/**
 * The published package as a consumer gets it. `npm pack` (its prepack builds dist/), then a
 * CommonJS CDK app (a copy of examples/consumer-app) installs the tarball with aws-cdk-lib
 * and constructs, type-checks and compiles against the package's declarations (NodeNext, as
 * `cdk init app --language typescript` sets it) and synthesises offline with a plain
 * mailbox object. Both module systems load every entry; the installed command works; no
 * build tool is in the production tree; `npm publish --dry-run` accepts the package.
 *
 * Slow (a build and an npm install): `npm run test:package`, which CI runs after `npm test`.
 * Times are printed, never asserted (bench/ holds the performance figures).
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FETCH_BUNDLE, HANDLERS, MAX_BUNDLE_BYTES, PROJECT_ROOT } from '../../lib/bundling';
import { medianStartMs } from './start-time';

/** Build tools the package must not pull into an app: the compiled package needs none of them. */
const BUILD_TOOLS = ['tsx', 'esbuild', 'typescript'];
/** The configuration file's JSON Schema, which `mailfetch init` names in "$schema". */
const CONFIG_SCHEMA = 'schema/mailfetch.config.schema.json';
/** s3rver and what it pulled in (koa 2, busboy/dicer with CVE-2022-24434, fast-xml-parser 3). */
const TEST_SERVERS = ['s3rver', 'koa', 'busboy', 'dicer'];
/** The Lambda deployment package (the zip CDK uploads) of each handler stays under this. */
const MAX_ASSET_BYTES = 1024 * 1024;
/** Zip's per-file overhead (local header, central directory entry), generously. */
const ZIP_OVERHEAD_PER_FILE = 256;
const STACK = 'MailfetchConsumer';

const root = mkdtempSync(join(tmpdir(), 'mailfetch-package-'));
const app = join(root, 'app');
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface PackedFile {
  readonly path: string;
  readonly size: number;
}
let packed: { filename: string; size: number; unpackedSize: number; files: PackedFile[] };

function run(command: string, args: readonly string[], options: SpawnSyncOptions = {}): string {
  const result = spawnSync(command, args, { encoding: 'utf8', ...options, env: { ...process.env, ...options.env } });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status ?? result.signal}):\n${String(result.stdout)}\n${String(result.stderr)}`);
  }
  return String(result.stdout);
}

/** The repository's TypeScript compiler (the app's own devDependency is not installed). */
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

beforeAll(() => {
  const pack = run('npm', ['pack', '--json', '--pack-destination', root], { cwd: PROJECT_ROOT });
  // Lifecycle scripts may print before npm's own report.
  const [report] = JSON.parse(pack.slice(pack.indexOf('['))) as (typeof packed)[];
  if (report === undefined) throw new Error(`npm pack reported nothing: ${pack}`);
  packed = report;
  cpSync(join(PROJECT_ROOT, 'examples/consumer-app'), app, { recursive: true });
  run('npm', ['install', '--prefer-offline', '--omit=dev', '--no-audit', '--no-fund', join(root, packed.filename)], { cwd: app });
});

describe('npm pack', () => {
  it('ships the compiled package: handlers, library, types, command; no sources, tests or benchmarks', () => {
    const paths = packed.files.map((f) => f.path);
    console.log(`package: ${packed.filename}, ${paths.length} files, ${kib(packed.size)} packed, ${kib(packed.unpackedSize)} unpacked`);
    expect(paths.filter((p) => !p.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE', 'bin/mailfetch.js', CONFIG_SCHEMA].includes(p))).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.ts') && !/\.d\.[cm]ts$/.test(p))).toEqual([]);
    for (const name of Object.keys(HANDLERS)) expect(paths).toContain(`dist/lambda/${name}/${FETCH_BUNDLE.outFile}`);
    expect(paths).toEqual(expect.arrayContaining(['dist/index.cjs', 'dist/index.mjs', 'dist/types/lib/index.d.cts', 'dist/types/lib/index.d.mts', 'dist/cli/mailfetch.mjs', 'bin/mailfetch.js', CONFIG_SCHEMA]));
  });

  it('is accepted by npm publish --dry-run', () => {
    // The tarball above was just built; --ignore-scripts does not build it again.
    run('npm', ['publish', '--dry-run', '--ignore-scripts'], { cwd: PROJECT_ROOT });
  });
});

describe('a CommonJS CDK app with the package installed', () => {
  it('type-checks against the declarations and compiles to require("mailfetch")', () => {
    // Proves the declarations were found (unresolved types would make this directive unused, an error).
    writeFileSync(
      join(app, 'types-check.ts'),
      "import { App, Stack } from 'aws-cdk-lib';\nimport { MailFetcher } from 'mailfetch';\nimport type { MailboxConfig } from 'mailfetch/config';\n" +
        "// @ts-expect-error host, username and a credential are required\nnew MailFetcher(new Stack(new App(), 'S'), 'M', { mailboxes: [{ id: 'x' }] });\n" +
        'export const port: MailboxConfig[\'port\'] = 995;\n',
    );
    const tsconfig = JSON.parse(readFileSync(join(app, 'tsconfig.json'), 'utf8')) as { files: string[] };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: [...tsconfig.files, 'types-check.ts'] }));
    run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app });
    expect(readFileSync(join(app, 'app.js'), 'utf8')).toContain('require("mailfetch")');
  });

  it('synthesises offline with a plain mailbox object; each handler asset is the pre-built bundle, bundle and zip under 1 MB', () => {
    const outdir = join(app, 'cdk.out');
    run(process.execPath, ['app.js'], { cwd: app, env: { CDK_OUTDIR: outdir, AWS_EC2_METADATA_DISABLED: 'true', CDK_DISABLE_VERSION_CHECK: '1' } });
    const template = JSON.parse(readFileSync(join(outdir, `${STACK}.template.json`), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { Handler?: string; Code?: { S3Key?: string } } }>;
    };
    const handlers = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Properties.Handler === 'index.handler');
    expect(handlers).toHaveLength(Object.keys(HANDLERS).length);
    for (const fn of handlers) {
      const dir = join(outdir, `asset.${String(fn.Properties.Code?.S3Key).replace(/\.zip$/, '')}`);
      // The handler's directory as the package ships it: index.mjs and the chunks it imports lazily.
      const files = readdirSync(dir).sort();
      expect(files).toContain(FETCH_BUNDLE.outFile);
      const prebuilt = Object.keys(HANDLERS).map((name) => join(app, 'node_modules/mailfetch/dist/lambda', name));
      const same = prebuilt.filter((shipped) => {
        const names = readdirSync(shipped).sort();
        return names.join() === files.join() && names.every((name) => readFileSync(join(shipped, name)).equals(readFileSync(join(dir, name))));
      });
      expect(same).toHaveLength(1);
      const bytes = files.reduce((sum, f) => sum + readFileSync(join(dir, f)).length, 0);
      expect(bytes).toBeLessThan(MAX_BUNDLE_BYTES);
      const zipBytes = files.reduce((sum, f) => sum + deflateRawSync(readFileSync(join(dir, f))).length + ZIP_OVERHEAD_PER_FILE, 0);
      console.log(`asset ${dir.slice(-12)}: ${files.length} files, ${kib(bytes)} bundle, ~${kib(zipBytes)} zipped`);
      expect(zipBytes).toBeLessThan(MAX_ASSET_BYTES);
    }
  });

  it('loads every entry with require() and with import', () => {
    const entries = { mailfetch: 'MailFetcher', 'mailfetch/config': 'parseConfig', 'mailfetch/engine': 'runMailbox', 'mailfetch/pop3': 'Pop3Client' };
    const checks = Object.entries(entries).map(([entry, name]) => [entry, name, `typeof m${name}.${name}`] as const);
    const cjs = checks.map(([entry, name]) => `const m${name} = require('${entry}');`).join('') + `console.log([${checks.map((c) => c[2]).join(',')}].join())`;
    const esm = checks.map(([entry, name]) => `import * as m${name} from '${entry}';`).join('') + `console.log([${checks.map((c) => c[2]).join(',')}].join())`;
    const expected = checks.map(() => 'function').join();
    expect(run(process.execPath, ['-e', cjs], { cwd: app }).trim()).toBe(expected);
    expect(run(process.execPath, ['--input-type=module', '-e', esm], { cwd: app }).trim()).toBe(expected);
  });

  it('validates plain mailbox objects with the configuration file\'s messages', () => {
    const script = "const { App, Stack } = require('aws-cdk-lib'); const { MailFetcher } = require('mailfetch');" +
      "try { new MailFetcher(new Stack(new App(), 'S'), 'M', { mailboxes: [{ id: 'x', host: 'pop.example.org' }] }); } catch (e) { console.log(e.name + ': ' + e.message); }";
    expect(run(process.execPath, ['-e', script], { cwd: app })).toContain('MailFetcherPropsError: Invalid MailFetcher props (2 problems):\n  - mailboxes[0] (id "x").username: is required');
  });

  it('has the compiled command: --help, --version, and the local demo (forked embedded servers)', () => {
    const bin = join(app, 'node_modules/.bin/mailfetch');
    expect(run(bin, ['--help'])).toMatch(/^mailfetch - fetch only-new mail/);
    const pkg = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(run(bin, ['--version']).trim()).toBe(`mailfetch ${pkg.version}`);
    const demo = run(bin, ['demo', '--dir', join(root, 'demo')], { cwd: app });
    expect(demo).toContain('Messages (6), each a plain .eml file any mail client opens:');
    expect(readdirSync(join(root, 'demo', 'messages', 'demo')).filter((f) => f.endsWith('.eml'))).toHaveLength(6);
    const bare = medianStartMs(process.execPath, ['-e', '0']);
    const help = medianStartMs(bin, ['--help']);
    console.log(`mailfetch --help: ${help.toFixed(0)} ms, bare node ${bare.toFixed(0)} ms (x${(help / bare).toFixed(2)}, +${(help - bare).toFixed(0)} ms)`);
  });

  it('has no build tool in its production dependency tree', () => {
    const tree = run('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: app }).split('\n').filter((line) => line.includes('node_modules'));
    const names = new Set(tree.map((path) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)));
    expect(names).toContain('mailfetch');
    expect(BUILD_TOOLS.filter((name) => names.has(name))).toEqual([]);
    // No test server either: the local mode writes .eml files and keeps state in embedded dynalite.
    expect(TEST_SERVERS.filter((name) => names.has(name))).toEqual([]);
    console.log(`production tree: ${names.size} packages`);
  });
});

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}
