import { checkKeys } from './check-keys';
import { fieldAt, readNonEmptyString, readOptional, type Field } from './field-readers';
import { has, isObject, type JsonObject } from './json-object';
import type { SecretRef } from './mailbox-config';
import type { Problems } from './problems';

const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const SECRET_REF_KEYS = ['secretId', 'key', 'env', 'sealed'] as const;
const SECRET_REF_SHAPE = 'must be { "secretId": ... }, { "sealed": ... } or { "env": ... }';
/** The sealed format's outline (sealed-value.ts checks it exactly when opening). */
const SEALED_PATTERN = /^v[0-9]+:[0-9]+:[A-Za-z0-9_-]+$/;

/**
 * A SecretRef. A plain string is refused: it would be a secret in a file that ends up in
 * repositories, CDK assets and Lambda event payloads.
 * @param noun plural of what is referenced, for the message (`passwords`, `client secrets`)
 */
export function readSecretRef(field: Field, noun: string, problems: Problems): SecretRef | undefined {
  const v = field.value;
  if (typeof v === 'string') {
    problems.add(field.path, `${SECRET_REF_SHAPE}; literal ${noun} are not allowed in the config file`);
    return undefined;
  }
  if (!isObject(v)) {
    problems.add(field.path, SECRET_REF_SHAPE);
    return undefined;
  }
  const kinds = (['secretId', 'sealed', 'env'] as const).filter((k) => has(v, k));
  if (kinds.length > 1) {
    problems.add(field.path, `must have one of "secretId", "sealed" and "env", not ${kinds.map((k) => `"${k}"`).join(' and ')}`);
    return undefined;
  }
  if (has(v, 'env')) return readEnvRef(v, field.path, problems);
  if (has(v, 'sealed')) return readSealedRef(v, field.path, problems);
  if (has(v, 'secretId')) return readSecretIdRef(v, field.path, problems);
  checkKeys(v, SECRET_REF_KEYS, field.path, problems);
  problems.add(field.path, SECRET_REF_SHAPE);
  return undefined;
}

function readEnvRef(v: JsonObject, path: string, problems: Problems): SecretRef | undefined {
  checkKeys(v, ['env'], path, problems);
  if (typeof v.env === 'string' && ENV_NAME_PATTERN.test(v.env)) return Object.freeze({ env: v.env });
  problems.add(`${path}.env`, 'must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)');
  return undefined;
}

function readSecretIdRef(v: JsonObject, path: string, problems: Problems): SecretRef | undefined {
  checkKeys(v, ['secretId', 'key'], path, problems);
  const secretId = readNonEmptyString({ value: v.secretId, path: `${path}.secretId` }, problems);
  const key = readOptional(fieldAt(v, 'key', path), problems, readNonEmptyString);
  if (secretId === undefined || (has(v, 'key') && key === undefined)) return undefined;
  return Object.freeze(key === undefined ? { secretId } : { secretId, key });
}

/** The value is quoted nowhere: it is ciphertext, but a pasted plaintext password would be too. */
function readSealedRef(v: JsonObject, path: string, problems: Problems): SecretRef | undefined {
  checkKeys(v, ['sealed'], path, problems);
  if (typeof v.sealed === 'string' && SEALED_PATTERN.test(v.sealed)) return Object.freeze({ sealed: v.sealed });
  problems.add(`${path}.sealed`, "must be a sealed value (\"v1:<key version>:<base64url>\") from 'mailfetch secrets seal'");
  return undefined;
}
