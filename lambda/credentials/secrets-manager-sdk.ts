/**
 * The part of the Secrets Manager SDK the secret resolver uses, imported lazily
 * (secret-resolver.ts). A dynamic `import()` of the SDK package itself would keep every
 * command of it in the Lambda bundle: bundlers cannot tell which names a dynamic import will use.
 */
export { GetSecretValueCommand, PutSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
