/**
 * The region and credentials of every local endpoint (dynalite, the local KMS, the tests'
 * s3rver), in a module of their own: embedded-aws.ts loads dynalite, whose native LevelDB
 * binding cannot run from a bundle (the benchmark's client imports these).
 */
export const LOCAL_REGION = 'us-east-1';
/**
 * Static, so no credential chain is consulted. dynalite and the local KMS accept anything;
 * these particular values are the only ones the tests' local S3 (s3rver) accepts.
 */
export const LOCAL_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;
