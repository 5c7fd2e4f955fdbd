/**
 * The secrets a set of mailboxes reference, found once: the construct grants on them and the
 * validation refuses references a deployed function cannot resolve.
 */
import type { MailboxConfig, SecretRef } from '../lambda/config/mailbox-config';

/** One reference as written in the configuration, with the field it came from. */
export interface SecretUse {
  /** Field path for messages, e.g. `mailboxes[0] (support).password`. */
  readonly path: string;
  readonly ref: SecretRef;
}

export interface MailboxSecrets {
  /** Secret ids (names or ARNs) the function reads, distinct, in order of first use. */
  readonly readSecretIds: readonly string[];
  /**
   * Secret ids of refresh tokens (OAuth `refresh_token` grant) that the worker writes back
   * when the token endpoint rotates them.
   */
  readonly writeSecretIds: readonly string[];
  /** `{ "env": ... }` references: only usable by local runs. */
  readonly envRefs: readonly SecretUse[];
}

/** Every secret reference of the mailboxes, by use. */
export function collectMailboxSecrets(mailboxes: readonly MailboxConfig[]): MailboxSecrets {
  const read = new Set<string>();
  const write = new Set<string>();
  const envRefs: SecretUse[] = [];
  mailboxes.forEach((mailbox, index) => {
    const at = `mailboxes[${index}] (${mailbox.id})`;
    const uses: (SecretUse & { readonly writable: boolean })[] = [];
    if (mailbox.password !== undefined) uses.push({ path: `${at}.password`, ref: mailbox.password, writable: false });
    const oauth = mailbox.oauth;
    if (oauth?.clientSecret !== undefined) uses.push({ path: `${at}.oauth.clientSecret`, ref: oauth.clientSecret, writable: false });
    if (oauth?.refreshToken !== undefined) {
      uses.push({ path: `${at}.oauth.refreshToken`, ref: oauth.refreshToken, writable: oauth.grant === 'refresh_token' });
    }
    for (const use of uses) {
      if ('secretId' in use.ref) {
        read.add(use.ref.secretId);
        if (use.writable) write.add(use.ref.secretId);
      } else if ('env' in use.ref) {
        envRefs.push({ path: use.path, ref: use.ref });
      }
    }
  });
  return { readSecretIds: [...read], writeSecretIds: [...write], envRefs };
}

/** A complete secret ARN ends in `-` and the six random characters Secrets Manager appends. */
const COMPLETE_SECRET_ARN = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:.+-[A-Za-z0-9]{6}$/;

/** How a secret id is imported: by name, by partial ARN (no suffix) or by complete ARN. */
export function secretIdKind(secretId: string): 'name' | 'partialArn' | 'completeArn' {
  if (!secretId.startsWith('arn:')) return 'name';
  return COMPLETE_SECRET_ARN.test(secretId) ? 'completeArn' : 'partialArn';
}
