/**
 * The part of the KMS SDK the data key ring uses, imported lazily (data-key-ring.ts). A
 * dynamic `import()` of the SDK package itself would keep every command of it in the
 * Lambda bundle: bundlers cannot tell which names a dynamic import will use.
 */
export { DecryptCommand, GenerateDataKeyCommand, KMSClient } from '@aws-sdk/client-kms';
