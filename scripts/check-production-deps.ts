/**
 * Fails when the production dependency tree (`npm ls --omit=dev --all --json`) holds a
 * package known to be bad for mailfetch: the unmaintained test emulator s3rver and what it
 * pulled in (koa, busboy/dicer with CVE-2022-24434, fast-xml-parser 3). Test emulators
 * belong in devDependencies. A stand-in for `npm audit --omit=dev` where the registry's
 * audit endpoint cannot be reached; it complements audit, it does not replace it.
 *
 *   node --import tsx scripts/check-production-deps.ts
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface DependencyNode {
  readonly version?: string;
  readonly dependencies?: Readonly<Record<string, DependencyNode>>;
}

interface KnownBad {
  readonly name: string;
  /** Why it must not be in production. */
  readonly reason: string;
  /** Bad from this major version down; absent: every version. */
  readonly belowMajor?: number;
}

export const KNOWN_BAD: readonly KnownBad[] = [
  { name: 's3rver', reason: 'test emulator without a release for years; a dev dependency only' },
  { name: 'koa', reason: "s3rver's web framework; nothing in production needs it" },
  { name: '@koa/router', reason: "s3rver's router; nothing in production needs it" },
  { name: 'busboy', reason: 'pulled in by s3rver; versions before 1 depend on dicer', belowMajor: 1 },
  { name: 'dicer', reason: 'CVE-2022-24434 (denial of service), unmaintained' },
  { name: 'fast-xml-parser', reason: 'versions before 4 have known vulnerabilities', belowMajor: 4 },
];

export interface Finding {
  /** `a > b > c@1.2.3`: how the package is reached from the project. */
  readonly path: string;
  readonly reason: string;
}

/** Every known-bad package in the tree, once per place it occurs. */
export function findKnownBad(root: DependencyNode): Finding[] {
  const findings: Finding[] = [];
  const walk = (node: DependencyNode, trail: readonly string[]): void => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      const label = `${name}@${child.version ?? '?'}`;
      const bad = KNOWN_BAD.find((k) => k.name === name && (k.belowMajor === undefined || majorOf(child.version) < k.belowMajor));
      if (bad) findings.push({ path: [...trail, label].join(' > '), reason: bad.reason });
      walk(child, [...trail, label]);
    }
  };
  walk(root, []);
  return findings;
}

/** The major version, or -1 when unknown (which counts as bad: better a false alarm). */
function majorOf(version: string | undefined): number {
  const major = Number.parseInt(version ?? '', 10);
  return Number.isNaN(major) ? -1 : major;
}

function productionTree(cwd: string): DependencyNode {
  // npm ls exits 1 on problems like extraneous packages; its JSON is still complete.
  let output: string;
  try {
    output = execFileSync('npm', ['ls', '--omit=dev', '--all', '--json'], { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (err) {
    output = (err as { stdout?: string }).stdout ?? '';
    if (output === '') throw err;
  }
  return JSON.parse(output) as DependencyNode;
}

function main(): void {
  const findings = findKnownBad(productionTree(process.cwd()));
  if (findings.length === 0) {
    console.log(`production dependencies: none of ${KNOWN_BAD.map((k) => k.name).join(', ')} (in the versions listed as bad)`);
    return;
  }
  for (const finding of findings) console.error(`known-bad production dependency: ${finding.path}: ${finding.reason}`);
  process.exitCode = 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main();
