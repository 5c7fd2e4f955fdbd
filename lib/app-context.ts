/**
 * The CDK context the app reads (cdk.json `context`, overridden with `-c key=value`), in one
 * typed place. `-c` values arrive as strings, cdk.json values as JSON.
 */
import type { App } from 'aws-cdk-lib';
import { ConfigError } from '../lambda/config/config-error';

export const CONTEXT_KEYS = {
  /** Path of the mailbox configuration file (relative to the working directory). */
  CONFIG: 'config',
  STACK_NAME: 'stackName',
  ALARM_EMAIL: 'alarmEmail',
  FIXED_EGRESS_IP: 'fixedEgressIp',
} as const;

export const DEFAULT_STACK_NAME = 'Mailfetch';

export interface AppContext {
  readonly configPath: string;
  readonly stackName: string;
  readonly alarmEmail?: string;
  readonly fixedEgressIp: boolean;
}

/** @throws ConfigError listing every bad context value */
export function readAppContext(app: App): AppContext {
  const problems: string[] = [];
  const get = (key: string): unknown => app.node.tryGetContext(key);

  const configPath = get(CONTEXT_KEYS.CONFIG);
  if (typeof configPath !== 'string' || configPath === '') {
    problems.push(`context ${CONTEXT_KEYS.CONFIG}: the configuration file path is missing (set it in cdk.json or pass -c config=path)`);
  }
  const stackName = get(CONTEXT_KEYS.STACK_NAME) ?? DEFAULT_STACK_NAME;
  if (typeof stackName !== 'string' || !/^[A-Za-z][A-Za-z0-9-]{0,127}$/.test(stackName)) {
    problems.push(`context ${CONTEXT_KEYS.STACK_NAME}: must start with a letter and hold only letters, digits and "-" (at most 128)`);
  }
  const alarmEmail = get(CONTEXT_KEYS.ALARM_EMAIL);
  if (alarmEmail !== undefined && (typeof alarmEmail !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(alarmEmail))) {
    problems.push(`context ${CONTEXT_KEYS.ALARM_EMAIL}: must be an e-mail address`);
  }
  const fixed = get(CONTEXT_KEYS.FIXED_EGRESS_IP) ?? false;
  if (fixed !== true && fixed !== false && fixed !== 'true' && fixed !== 'false') {
    problems.push(`context ${CONTEXT_KEYS.FIXED_EGRESS_IP}: must be true or false`);
  }
  if (problems.length > 0) throw new ConfigError(problems, { source: 'CDK context' });
  return {
    configPath: configPath as string,
    stackName: stackName as string,
    ...(alarmEmail === undefined ? {} : { alarmEmail: alarmEmail as string }),
    fixedEgressIp: fixed === true || fixed === 'true',
  };
}
