/**
 * `mailfetch init`: the starter file validates (validator and JSON Schema), points at the
 * shipped schema, is never written over without --force, and a refused value writes nothing.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Ajv from 'ajv';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/config/validate-config';
import { PROJECT_ROOT } from '../../lib/bundling';

const SCHEMA_PATH = join(PROJECT_ROOT, 'schema/mailfetch.config.schema.json');
import { runMailfetch } from './cli-runner';

const dir = mkdtempSync(join(tmpdir(), 'mailfetch-init-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('mailfetch init', () => {
  it('writes a starter that the validator and the schema accept, with $schema naming the shipped schema', async () => {
    const result = await runMailfetch(['init'], dir);

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('Wrote mailfetch.config.json.');
    expect(result.stdout).toContain("MAILFETCH_PASSWORD='...' mailfetch check --config mailfetch.config.json");
    const written = JSON.parse(readFileSync(join(dir, 'mailfetch.config.json'), 'utf8')) as { $schema: string };
    expect(parseConfig(written).mailboxes.map((m) => [m.id, m.host, m.password])).toEqual([['inbox', 'pop.example.com', { env: 'MAILFETCH_PASSWORD' }]]);
    expect(resolve(dir, written.$schema)).toBe(SCHEMA_PATH);
    const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object;
    expect(new Ajv({ strict: true }).validate(schema, written)).toBe(true);
  });

  it('never overwrites a file without --force; with it, takes --id, --host and --username', async () => {
    const file = join(dir, 'mine.json');
    writeFileSync(file, '{"keep":"me"}');

    const refused = await runMailfetch(['init', '--config', 'mine.json'], dir);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`${file} already exists; add --force to overwrite it`);
    expect(readFileSync(file, 'utf8')).toBe('{"keep":"me"}');

    const forced = await runMailfetch(['init', '--config', 'mine.json', '--force', '--id', 'support', '--host', 'pop.example.org', '--username', 'support@example.org'], dir);
    expect(forced.code).toBe(0);
    expect(forced.stdout).not.toContain('Put your POP3 server');
    const [mailbox] = parseConfig(JSON.parse(readFileSync(file, 'utf8'))).mailboxes;
    expect([mailbox?.id, mailbox?.host, mailbox?.username]).toEqual(['support', 'pop.example.org', 'support@example.org']);
  });

  it('refuses a value the configuration would refuse, writing nothing', async () => {
    const before = readdirSync(dir).sort();

    const result = await runMailfetch(['init', '--config', 'bad.json', '--host', 'pop3s://pop.example.org'], dir);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('host: must be a host name or IP address without a scheme');
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
