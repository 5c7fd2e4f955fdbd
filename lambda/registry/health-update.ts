/**
 * The one UpdateItem a run's health costs. It sets health attributes only (never `config`,
 * `enabled` or the version), so it cannot undo a configuration change made during the run,
 * and it is conditional on the item existing, so a mailbox removed meanwhile is not
 * brought back as a health-only item.
 */
import type { UpdateItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { RunOutcome } from './mailbox-registry';
import { RegistryAttr, registryKey, type Item } from './registry-item';

export function healthUpdate(table: string, id: string, outcome: RunOutcome): UpdateItemCommandInput {
  const sets: Record<string, Item[string]> = {
    [RegistryAttr.lastRunAt]: { S: outcome.at },
    [RegistryAttr.lastRunStatus]: { S: outcome.status },
    [RegistryAttr.lastAction]: { S: outcome.action },
  };
  let add = '';
  if (outcome.status !== 'busy') {
    // A busy run saw nothing: backlog and duration stay those of the last real run.
    sets[RegistryAttr.backlog] = { N: String(outcome.backlog) };
    sets[RegistryAttr.lastDurationMs] = { N: String(outcome.durationMs) };
  }
  if (outcome.loginDelay) {
    // Kept until a run learns another: the dispatcher holds runs back until nextLoginAt.
    sets[RegistryAttr.loginDelaySeconds] = { N: String(outcome.loginDelay.seconds) };
    sets[RegistryAttr.nextLoginAt] = { S: outcome.loginDelay.nextLoginAt };
  }
  if (outcome.status === 'ok') {
    sets[RegistryAttr.lastSuccessAt] = { S: outcome.at };
    sets[RegistryAttr.consecutiveFailures] = { N: '0' };
  } else if (outcome.status === 'error') {
    sets[RegistryAttr.lastErrorAt] = { S: outcome.at };
    sets[RegistryAttr.lastErrorCode] = { S: outcome.error?.code ?? 'UNKNOWN' };
    sets[RegistryAttr.lastErrorMessage] = { S: outcome.error?.message ?? '' };
    // ADD counts from 0 on an item that has no counter yet.
    add = ` ADD #${RegistryAttr.consecutiveFailures} :one`;
  }
  const names: Record<string, string> = { [`#${RegistryAttr.pk}`]: RegistryAttr.pk };
  const values: Item = {};
  for (const [name, value] of Object.entries(sets)) {
    names[`#${name}`] = name;
    values[`:${name}`] = value;
  }
  if (add !== '') {
    names[`#${RegistryAttr.consecutiveFailures}`] = RegistryAttr.consecutiveFailures;
    values[':one'] = { N: '1' };
  }
  return {
    TableName: table,
    Key: registryKey(id),
    UpdateExpression: `SET ${Object.keys(sets).map((n) => `#${n} = :${n}`).join(', ')}${add}`,
    ConditionExpression: `attribute_exists(#${RegistryAttr.pk})`,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}
