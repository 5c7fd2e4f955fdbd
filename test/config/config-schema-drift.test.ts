/**
 * Review of issue 10 (point 6): the schema promises that the validator never accepts what
 * the schema refuses ("so they cannot drift"). A wider fuzz than config-schema.test.ts's
 * (arbitrary strings in the oauth fields) finds a configuration the validator accepts and
 * the schema refuses: a token endpoint whose scheme is upper case (`new URL` lower-cases
 * it; the schema's pattern `^https?://` does not).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/config/validate-config';
import { PROJECT_ROOT } from '../../lib/bundling';

const schema = JSON.parse(readFileSync(join(PROJECT_ROOT, 'schema/mailfetch.config.schema.json'), 'utf8')) as object;
const ajv = new Ajv({ allErrors: true, strict: true });
const schemaAccepts = ajv.compile(schema);

describe('the schema accepts what the validator accepts', () => {
  it('an oauth token endpoint with an upper-case scheme', () => {
    const config = {
      mailboxes: [
        {
          id: 'a',
          host: 'pop.example.org',
          username: 'u',
          auth: 'XOAUTH2',
          oauth: { grant: 'client_credentials', tokenEndpoint: 'HTTPS://login.example.com/token', clientId: 'c', clientSecret: { secretId: 'mailfetch/s' }, scope: 's' },
        },
      ],
    };
    const byValidator = (() => {
      try {
        parseConfig(config);
        return true;
      } catch {
        return false;
      }
    })();
    // Either both accept it or both refuse it.
    expect(schemaAccepts(config), ajv.errorsText(schemaAccepts.errors)).toBe(byValidator);
  });

  it('a $schema that is not a string: both refuse it', () => {
    const config = { $schema: 5, mailboxes: [{ id: 'a', host: 'pop.example.org', username: 'u', password: { secretId: 'mailfetch/a' } }] };
    expect(schemaAccepts(config)).toBe(false);
    expect(() => parseConfig(config)).toThrow(/\$schema: must be a string/);
  });
});
