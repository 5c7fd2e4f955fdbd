/**
 * The secrets a set of mailboxes reference, found once: the validation refuses references a
 * deployed function cannot resolve (environment variables, secrets outside the granted
 * name prefix), and the construct imports the secrets it was given.
 */
import type { MailboxConfig, SecretRef } from '../lambda/config/mailbox-config';
import { configPathOf, credentialRefs } from '../lambda/credentials/credential-slot';

/** One reference as written in the configuration, with the field it came from. */
export interface SecretUse {
  /** Field path for messages, e.g. `mailboxes[0] (support).password`. */
  readonly path: string;
  readonly ref: SecretRef;
}

export interface MailboxSecrets {
  /** Secret ids (names or ARNs) the function reads, distinct, in order of first use. */
  readonly readSecretIds: readonly string[];
  /** Every `{ "secretId": ... }` reference, where it is used. */
  readonly secretRefs: readonly (SecretUse & { readonly ref: { readonly secretId: string } })[];
  /** `{ "env": ... }` references: only usable by local runs. */
  readonly envRefs: readonly SecretUse[];
}

/** Every secret reference of the mailboxes, by use. Sealed values need nothing here: they live in the registry. */
export function collectMailboxSecrets(mailboxes: readonly MailboxConfig[]): MailboxSecrets {
  const read = new Set<string>();
  const secretRefs: MailboxSecrets['secretRefs'][number][] = [];
  const envRefs: SecretUse[] = [];
  mailboxes.forEach((mailbox, index) => {
    const at = `mailboxes[${index}] (${mailbox.id})`;
    const uses: SecretUse[] = credentialRefs(mailbox).map(([field, ref]) => ({ path: `${at}.${configPathOf(field)}`, ref }));
    for (const { path, ref } of uses) {
      if ('secretId' in ref) {
        read.add(ref.secretId);
        secretRefs.push({ path, ref });
      } else if ('env' in ref) {
        envRefs.push({ path, ref });
      }
    }
  });
  return { readSecretIds: [...read], secretRefs, envRefs };
}

/** A complete secret ARN ends in `-` and the six random characters Secrets Manager appends. */
const COMPLETE_SECRET_ARN = /^arn:[^:]+:secretsmanager:[^:]*:[^:]*:secret:.+-[A-Za-z0-9]{6}$/;

/** How a secret id is imported: by name, by partial ARN (no suffix) or by complete ARN. */
export function secretIdKind(secretId: string): 'name' | 'partialArn' | 'completeArn' {
  if (!secretId.startsWith('arn:')) return 'name';
  return COMPLETE_SECRET_ARN.test(secretId) ? 'completeArn' : 'partialArn';
}
