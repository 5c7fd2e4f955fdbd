/**
 * `mailfetch/config`: the configuration file's shape, its validation (every problem at once,
 * defaults applied, the result frozen) and its one error.
 */
export { loadConfigFile, parseConfig, parseMailbox, readConfigJson } from '../config/validate-config';
export { ConfigError, CONFIG_ERROR_CODE, isConfigError, type ConfigErrorOptions } from '../config/config-error';
export {
  DEFAULT_LIMITS,
  DEFAULT_SCHEDULE,
  type AppConfig,
  type MailboxConfig,
  type MailboxInput,
  type MailboxLimits,
  type OAuthConfig,
  type Retention,
  type SecretRef,
} from '../config/mailbox-config';
