/**
 * The package's root entry (`require('mailfetch')`, `import ... from 'mailfetch'`): the
 * `MailFetcher` construct, its props, and the stack the repository's own CDK app deploys.
 * The runtime API is under subpaths: `mailfetch/config`, `mailfetch/engine`, `mailfetch/pop3`
 * (docs/package.md).
 */
export { MailFetcher, FETCH_RUNTIME } from './mail-fetcher';
export { MAIL_FETCHER_DEFAULTS, type MailFetcherProps } from './mail-fetcher-props';
export { MailFetcherPropsError, PROPS_ERROR_CODE } from './props-validation';
export type { MailEventsProps, OnMailOptions } from './mail-events';
export { MailFilterError, MAIL_FILTER_ERROR_CODE, MAX_FILTER_SIZE_OCTETS, type MailFilter } from './mail-filter';
export { MAIL_STORED_DETAIL_TYPE, MAIL_STORED_SOURCE, type MailAddress, type MailStoredDetail } from '../lambda/events/mail-stored-detail';
export { MailfetchStack, type MailfetchStackProps } from './mailfetch-stack';
export type { MailFetcherAlarms } from './mail-fetcher-alarms';
export type { MailFetcherDashboard } from './mail-fetcher-dashboard';
export type { MailboxCredentials } from './mailbox-credentials';
export type { RegistrySeed } from './registry-seed';
export type { RunDispatch } from './run-dispatch';
export type { FixedEgressVpc } from './fixed-egress-vpc';
export type { AppConfig, MailboxConfig, MailboxInput, MailboxLimits, OAuthConfig, Retention, SecretRef } from '../lambda/config/mailbox-config';
