/**
 * schema/mailfetch.config.schema.json (for editors, shipped in the package) against the
 * validator (lambda/config), so the two cannot drift:
 * - the schema names exactly the fields, choices and defaults the validator knows;
 * - seeded random configurations: whatever the validator accepts, the schema accepts, and
 *   a configuration carrying a mistake the schema can express (wrong type, unknown field,
 *   value out of range or out of a choice) is refused by both.
 * The validator is stricter in places (host names, cron fields, tls "none" without
 * allowPlaintextAuth, a credential per mailbox): those are not the schema's to refuse.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isConfigError } from '../../lambda/config/config-error';
import { DEFAULT_LIMITS, DEFAULT_SCHEDULE } from '../../lambda/config/mailbox-config';
import { AUTH_CHOICES, MAILBOX_KEYS, TLS_MODES } from '../../lambda/config/parse-mailbox';
import { LIMIT_KEYS } from '../../lambda/config/read-limits';
import { OAUTH_GRANTS, OAUTH_KEYS } from '../../lambda/config/read-oauth';
import { SECRET_REF_KEYS } from '../../lambda/config/read-secret-ref';
import { TOP_LEVEL_KEYS, parseConfig } from '../../lambda/config/validate-config';
import { PROJECT_ROOT } from '../../lib/bundling';
import { fuzzParams } from '../fuzz/fuzz-support';

const SCHEMA_PATH = join(PROJECT_ROOT, 'schema/mailfetch.config.schema.json');

interface SchemaNode {
  properties?: Record<string, SchemaNode>;
  enum?: unknown[];
  default?: unknown;
  oneOf?: SchemaNode[];
  $ref?: string;
}
interface ConfigSchema extends SchemaNode {
  definitions: Record<string, SchemaNode>;
}

const schema = JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as ConfigSchema;
const ajv = new Ajv({ allErrors: true, strict: true });
const schemaAccepts = ajv.compile(schema);

function validatorAccepts(config: unknown): boolean {
  try {
    parseConfig(config);
    return true;
  } catch (err) {
    if (!isConfigError(err)) throw err;
    return false;
  }
}

const keys = (node: SchemaNode | undefined): string[] => Object.keys(node?.properties ?? {}).sort();
const sorted = (list: readonly string[]): string[] => [...list].sort();

describe('the configuration schema names what the validator knows', () => {
  const mailbox = schema.definitions.mailbox!;

  it('the same fields at every level', () => {
    expect(keys(schema)).toEqual(sorted(TOP_LEVEL_KEYS));
    expect(keys(mailbox)).toEqual(sorted(MAILBOX_KEYS));
    expect(keys(schema.properties?.defaults)).toEqual(sorted(MAILBOX_KEYS.filter((k) => k !== 'id')));
    expect(keys(schema.definitions.limits)).toEqual(sorted(LIMIT_KEYS));
    expect(keys(schema.definitions.oauth)).toEqual(sorted(OAUTH_KEYS));
    expect(sorted((schema.definitions.secretRef?.oneOf ?? []).flatMap((alternative) => keys(alternative)))).toEqual(sorted(SECRET_REF_KEYS));
  });

  it('the same choices and defaults', () => {
    expect(mailbox.properties?.tls?.enum).toEqual([...TLS_MODES]);
    expect(mailbox.properties?.auth?.enum).toEqual([...AUTH_CHOICES]);
    expect(schema.definitions.oauth?.properties?.grant?.enum).toEqual([...OAUTH_GRANTS]);
    expect(mailbox.properties?.schedule?.default).toBe(DEFAULT_SCHEDULE);
    for (const key of LIMIT_KEYS) expect(schema.definitions.limits?.properties?.[key]?.default, key).toBe(DEFAULT_LIMITS[key]);
  });

  it("accepts every configuration file of the repository, as the validator does", () => {
    const files = [
      ...readdirSync(join(PROJECT_ROOT, 'examples')).filter((f) => f.endsWith('.json')).map((f) => join(PROJECT_ROOT, 'examples', f)),
      ...readdirSync(join(PROJECT_ROOT, 'test/infra/fixtures')).filter((f) => f.endsWith('.config.json')).map((f) => join(PROJECT_ROOT, 'test/infra/fixtures', f)),
    ];
    expect(files.length).toBeGreaterThan(1);
    for (const file of files) {
      const config = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      expect(validatorAccepts(config), file).toBe(true);
      expect(schemaAccepts(config), `${file}: ${ajv.errorsText(schemaAccepts.errors)}`).toBe(true);
    }
  });
});

// ---------------------------------------------------------------------------------------
// Random configurations: valid mailboxes, then at most one mistake the schema can express.

const secretRef = fc.oneof(
  fc.constantFrom({ secretId: 'mailfetch/a' }, { secretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:x' }, { secretId: 'mailfetch/json', key: 'password' }),
  fc.constant({ sealed: 'v1:1:AbC_-9' }),
  fc.constantFrom({ env: 'POP_PASSWORD' }, { env: '_X1' }),
);

const oauth = fc.oneof(
  fc.record({
    grant: fc.constant('client_credentials'),
    tokenEndpoint: fc.constantFrom('https://login.example.com/token', 'http://127.0.0.1:8080/token'),
    clientId: fc.constant('client-1'),
    clientSecret: secretRef,
    scope: fc.constant('https://outlook.office365.com/.default'),
  }),
  fc.record(
    { grant: fc.constant('refresh_token'), tokenEndpoint: fc.constant('https://oauth2.example.com/token'), clientId: fc.constant('c'), clientSecret: secretRef, refreshToken: secretRef },
    { requiredKeys: ['grant', 'tokenEndpoint', 'clientId', 'refreshToken'] },
  ),
);

const credential = fc.oneof(
  fc.record({ auth: fc.constantFrom('auto', 'USER', 'APOP', 'PLAIN', 'LOGIN', 'CRAM-MD5'), password: secretRef }, { requiredKeys: ['password'] }),
  fc.record({ auth: fc.constantFrom('XOAUTH2', 'OAUTHBEARER'), oauth }),
);

const transport = fc.oneof(
  fc.record({ tls: fc.constantFrom('implicit', 'starttls'), allowPlaintextAuth: fc.boolean() }, { requiredKeys: [] }),
  fc.record({ tls: fc.constant('none'), allowPlaintextAuth: fc.constant(true) }),
);

const optionalFields = fc.record(
  {
    port: fc.integer({ min: 1, max: 65_535 }),
    tlsServername: fc.constant('mail.example.org'),
    retention: fc.oneof(fc.constantFrom('keep', 'delete'), fc.integer({ min: 1, max: 3650 }).map((d) => ({ deleteAfterDays: d }))),
    limits: fc.record(
      { maxMessagesPerRun: fc.integer({ min: 1, max: 100_000 }), maxBytesPerRun: fc.integer({ min: 1, max: 2 ** 40 }), maxMessageBytes: fc.integer({ min: 1, max: 5 * 1024 ** 3 }) },
      { requiredKeys: [] },
    ),
    pipelining: fc.boolean(),
    hidesRetrievedMail: fc.boolean(),
    schedule: fc.constantFrom('rate(5 minutes)', 'rate(1 minute)', 'cron(0/10 * * * ? *)'),
  },
  { requiredKeys: [] },
);

const validMailbox = (index: number): fc.Arbitrary<Record<string, unknown>> =>
  fc.tuple(fc.constantFrom('pop.example.org', '192.0.2.10', 'pop.gmail.com'), fc.constantFrom('user@example.org', 'recent:user@gmail.com'), credential, transport, optionalFields).map(
    ([host, username, cred, tls, rest]) => ({ id: `mbx-${index}`, host, username, ...cred, ...tls, ...rest }),
  );

/** [path below the mailbox, bad value]: each one refused by the validator and by the schema. */
const MISTAKES: readonly [string[], unknown][] = [
  [['id'], 'bad id!'], [['id'], '..'], [['id'], 'x'.repeat(65)], [['id'], 3],
  [['host'], ''], [['host'], 42],
  [['port'], '995'], [['port'], 0], [['port'], 65_536], [['port'], 99.5],
  [['tls'], 'ssl'], [['tls'], true],
  [['username'], ''], [['auth'], 'NTLM'], [['auth'], 'plain'],
  [['allowPlaintextAuth'], 'yes'], [['pipelining'], 'true'], [['hidesRetrievedMail'], 0],
  [['retention'], 'forever'], [['retention'], { deleteAfterDays: 0 }], [['retention'], { days: 3 }], [['retention'], 30],
  [['limits'], { maxMessagesPerRun: 0 }], [['limits'], { maxBytesPerRun: '1GB' }], [['limits'], { maxMessageBytes: 5 * 1024 ** 3 + 1 }], [['limits'], { maxMessageCount: 5 }],
  [['schedule'], 'every 5 minutes'], [['schedule'], 5],
  [['hots'], 'pop.example.org'], [['Port'], 995],
  [['password'], 'literal-password'], [['password'], { secretId: '' }], [['password'], { secretId: 'a', env: 'B' }], [['password'], { env: '1BAD' }], [['password'], { sealed: 'plain text' }], [['password'], { secretID: 'x' }],
  [['oauth', 'grant'], 'password'], [['oauth', 'tokenEndpoint'], 'ftp://x'], [['oauth', 'clientId'], ''], [['oauth', 'scope'], ''], [['oauth', 'extra'], 1],
];

function withMistake(mailbox: Record<string, unknown>, [path, bad]: [string[], unknown]): Record<string, unknown> {
  const copy = structuredClone(mailbox);
  let node = copy;
  for (const key of path.slice(0, -1)) {
    // A mistake inside a block the mailbox lacks creates the block around it.
    if (typeof node[key] !== 'object' || node[key] === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = bad;
  return copy;
}

interface Generated {
  readonly value: unknown;
  readonly mistake: boolean;
}

const configuration: fc.Arbitrary<Generated> = fc
  .tuple(
    fc.integer({ min: 1, max: 3 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => validMailbox(i)))),
    // Half the configurations carry one mistake.
    fc.option(fc.tuple(fc.nat(), fc.constantFrom(...MISTAKES)), { freq: 2 }),
    fc.option(fc.constantFrom<Record<string, unknown>>({ retention: 'delete' }, { limits: { maxMessageBytes: 1024 } })),
  )
  .map(([boxes, mistake, defaults]) => {
    const mailboxes = boxes.map((box, i) => (mistake !== null && mistake[0] % boxes.length === i ? withMistake(box, mistake[1]) : box));
    return { value: { mailboxes, ...(defaults === null ? {} : { defaults }) }, mistake: mistake !== null };
  });

describe('the schema and the validator agree on random configurations', () => {
  it('never refuses what the validator accepts; both refuse an expressible mistake', () => {
    let accepted = 0;
    let mistakes = 0;
    fc.assert(
      fc.property(configuration, ({ value, mistake }) => {
        const byValidator = validatorAccepts(value);
        const bySchema = schemaAccepts(value);
        if (byValidator) {
          accepted++;
          expect(bySchema, ajv.errorsText(schemaAccepts.errors)).toBe(true);
        }
        if (mistake) {
          mistakes++;
          expect({ byValidator, bySchema }).toEqual({ byValidator: false, bySchema: false });
        }
      }),
      fuzzParams(600),
    );
    // Both sides of the property were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(mistakes).toBeGreaterThan(100);
  });
});
