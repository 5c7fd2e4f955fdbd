/**
 * Secrets Manager names, as the IAM grant by prefix sees them: the deployed function may
 * use secrets named `<secretNamePrefix>*` (lib/mailbox-credentials.ts), and both the props
 * validation and the worker's access-denied message check a reference against it.
 */

const ARN_SECRET_MARKER = ':secret:';

/** A secret's name: the id itself, or the part of an ARN after `:secret:` (with its random suffix). */
export function secretNameOf(secretId: string): string {
  const at = secretId.indexOf(ARN_SECRET_MARKER);
  return secretId.startsWith('arn:') && at >= 0 ? secretId.slice(at + ARN_SECRET_MARKER.length) : secretId;
}

/** Whether the grant `secret:<prefix>*` covers this reference (by name; the ARN's account and region aside). */
export function isUnderPrefix(secretId: string, prefix: string): boolean {
  return secretNameOf(secretId).startsWith(prefix);
}
