/**
 * The parts of the S3 SDK the sink and the worker use, for the modules that load it on
 * demand (`import('./s3-sdk')`): a dynamic import of the SDK's own module would bundle every
 * command it has; this one names the few that are used, so the lazy chunk holds only them.
 */
export { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
