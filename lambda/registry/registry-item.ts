/**
 * The registry's items in the state table, and their conversion. Layout (docs/registry.md):
 *
 * | pk          | sk               | attributes                                                       |
 * |-------------|------------------|------------------------------------------------------------------|
 * | `#REGISTRY` | `MBX#<mailboxId>`| configuration: mailboxId, config (S, JSON), host, schedule,       |
 * |             |                  | enabled (BOOL), configVersion (N), configUpdatedAt, createdAt,   |
 * |             |                  | deployed (S: added | adopted, by the deployment's file);        |
 * |             |                  | health: lastRunAt, lastRunStatus, lastAction, lastSuccessAt,      |
 * |             |                  | lastErrorAt, lastErrorCode, lastErrorMessage,                     |
 * |             |                  | consecutiveFailures (N), backlog (N), lastDurationMs (N),         |
 * |             |                  | loginDelaySeconds (N), nextLoginAt (the server's LOGIN-DELAY)     |
 *
 * One partition holds the whole registry, so listing it is one Query, never a Scan of the
 * state table. `#REGISTRY` cannot collide with a mailbox's partition (`MBX#<id>`), and
 * resetting a mailbox's state leaves its registry item alone.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { isConfigError } from '../config/config-error';
import type { MailboxConfig } from '../config/mailbox-config';
import { parseMailbox } from '../config/validate-config';
import { PARTITION_KEY, SORT_KEY } from '../state/table-schema';
import { RegistryError, RegistryErrorCode } from './errors';
import type { DeployedMark, MailboxHealth, RegisteredMailbox, RunAction, RunOutcomeStatus } from './mailbox-registry';

/** Partition key of every registry item. */
export const REGISTRY_PARTITION = '#REGISTRY';
/** Sort key prefix: `MBX#<mailboxId>`. */
export const REGISTRY_SORT_PREFIX = 'MBX#';

/** Attribute names. Configuration and health are disjoint sets: see CONFIG_ATTRIBUTES. */
export const RegistryAttr = {
  pk: PARTITION_KEY,
  sk: SORT_KEY,
  mailboxId: 'mailboxId',
  config: 'config',
  host: 'host',
  schedule: 'schedule',
  enabled: 'enabled',
  configVersion: 'configVersion',
  configUpdatedAt: 'configUpdatedAt',
  createdAt: 'createdAt',
  deployed: 'deployed',
  lastRunAt: 'lastRunAt',
  lastRunStatus: 'lastRunStatus',
  lastAction: 'lastAction',
  lastSuccessAt: 'lastSuccessAt',
  lastErrorAt: 'lastErrorAt',
  lastErrorCode: 'lastErrorCode',
  lastErrorMessage: 'lastErrorMessage',
  consecutiveFailures: 'consecutiveFailures',
  backlog: 'backlog',
  lastDurationMs: 'lastDurationMs',
  loginDelaySeconds: 'loginDelaySeconds',
  nextLoginAt: 'nextLoginAt',
} as const;

export type Item = Record<string, AttributeValue>;

export function registryKey(id: string): Item {
  return { [RegistryAttr.pk]: { S: REGISTRY_PARTITION }, [RegistryAttr.sk]: { S: `${REGISTRY_SORT_PREFIX}${id}` } };
}

/**
 * The configuration attributes of a mailbox. `host` and `schedule` are copies of fields
 * of `config`, so a dispatcher can project them without parsing the JSON.
 */
export function configAttributes(config: MailboxConfig): Item {
  return {
    [RegistryAttr.mailboxId]: { S: config.id },
    [RegistryAttr.config]: { S: JSON.stringify(config) },
    [RegistryAttr.host]: { S: config.host },
    [RegistryAttr.schedule]: { S: config.schedule },
  };
}

/**
 * A new mailbox's whole item, as `add` writes it: its configuration, enabled or not, at
 * version 1, created at `at` (ISO), with no health yet.
 */
export function newRegistryItem(config: MailboxConfig, at: string, enabled: boolean, deployed = false): Item {
  return {
    ...registryKey(config.id),
    ...configAttributes(config),
    [RegistryAttr.enabled]: { BOOL: enabled },
    [RegistryAttr.configVersion]: { N: '1' },
    [RegistryAttr.configUpdatedAt]: { S: at },
    [RegistryAttr.createdAt]: { S: at },
    [RegistryAttr.consecutiveFailures]: { N: '0' },
    ...(deployed ? { [RegistryAttr.deployed]: { S: 'added' } } : {}),
  };
}

/** Reads an item back; its configuration goes through the configuration file's parser again. */
export function itemToMailbox(item: Item): RegisteredMailbox {
  const id = str(item, RegistryAttr.mailboxId) ?? str(item, RegistryAttr.sk)?.slice(REGISTRY_SORT_PREFIX.length) ?? '?';
  return {
    config: parseConfigAttribute(id, str(item, RegistryAttr.config)),
    enabled: item[RegistryAttr.enabled]?.BOOL === true,
    health: healthOf(item),
    configVersion: num(item, RegistryAttr.configVersion) ?? 0,
    ...optional('configUpdatedAt', str(item, RegistryAttr.configUpdatedAt)),
    ...optional('deployed', deployedMark(item)),
  };
}

function parseConfigAttribute(id: string, json: string | undefined): MailboxConfig {
  let config: MailboxConfig;
  try {
    config = parseMailbox(JSON.parse(json ?? 'null') as unknown, `registry item "${id}".config`);
  } catch (err) {
    const why = isConfigError(err) ? err.problems.join('; ') : 'not JSON';
    throw new RegistryError(
      RegistryErrorCode.REGISTRY_ITEM_INVALID,
      `mailbox "${id}": its registry item holds no valid configuration (${why}); fix it with 'mailfetch mailboxes update'`,
      { mailboxId: id, cause: err },
    );
  }
  if (config.id !== id) {
    throw new RegistryError(RegistryErrorCode.REGISTRY_ITEM_INVALID, `mailbox "${id}": its registry item's configuration names id "${config.id}"`, { mailboxId: id });
  }
  return config;
}

function healthOf(item: Item): MailboxHealth {
  return {
    consecutiveFailures: num(item, RegistryAttr.consecutiveFailures) ?? 0,
    ...optional('lastRunAt', str(item, RegistryAttr.lastRunAt)),
    ...optional('lastRunStatus', str(item, RegistryAttr.lastRunStatus) as RunOutcomeStatus | undefined),
    ...optional('lastAction', str(item, RegistryAttr.lastAction) as RunAction | undefined),
    ...optional('lastSuccessAt', str(item, RegistryAttr.lastSuccessAt)),
    ...optional('lastErrorAt', str(item, RegistryAttr.lastErrorAt)),
    ...optional('lastErrorCode', str(item, RegistryAttr.lastErrorCode)),
    ...optional('lastErrorMessage', str(item, RegistryAttr.lastErrorMessage)),
    ...optional('backlog', num(item, RegistryAttr.backlog)),
    ...optional('lastDurationMs', num(item, RegistryAttr.lastDurationMs)),
    ...optional('loginDelaySeconds', num(item, RegistryAttr.loginDelaySeconds)),
    ...optional('nextLoginAt', str(item, RegistryAttr.nextLoginAt)),
  };
}

function deployedMark(item: Item): DeployedMark | undefined {
  const value = item[RegistryAttr.deployed];
  if (value?.S === 'added' || value?.S === 'adopted') return value.S;
  // Marks of 0.1 development builds: a boolean, always a mailbox the deployment added.
  return value?.BOOL === true ? 'added' : undefined;
}

function str(item: Item, name: string): string | undefined {
  return item[name]?.S;
}

function num(item: Item, name: string): number | undefined {
  const n = item[name]?.N;
  return n === undefined ? undefined : Number(n);
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
