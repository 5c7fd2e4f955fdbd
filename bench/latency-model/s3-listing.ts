/**
 * ListObjectsV2 over one bucket of the latency model: keys in UTF-8 byte order, `prefix`,
 * `start-after`, `max-keys` (at most 1,000, as S3) and an opaque continuation token (the
 * last key returned, base64url). The caller refuses a delimiter (CommonPrefixes).
 */
import { listBucketXml } from './s3-xml';

/** What the model keeps of an object: never its bytes. */
export interface S3Object {
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
  readonly metadata: Record<string, string>;
  readonly contentType: string | undefined;
  readonly checksums: Record<string, string>;
}

export type S3Bucket = Map<string, S3Object>;

/** S3 returns at most 1,000 keys per ListObjectsV2 page. */
const MAX_KEYS_PER_PAGE = 1000;

export function listObjectsV2(name: string, bucket: S3Bucket, q: URLSearchParams, compare: (a: string, b: string) => number): string {
  const prefix = q.get('prefix') ?? '';
  const requested = Number(q.get('max-keys') ?? MAX_KEYS_PER_PAGE);
  const maxKeys = Number.isInteger(requested) && requested >= 0 ? Math.min(requested, MAX_KEYS_PER_PAGE) : MAX_KEYS_PER_PAGE;
  const token = q.get('continuation-token') ?? undefined;
  const startAfter = q.get('start-after') ?? undefined;
  const after = token !== undefined ? Buffer.from(token, 'base64url').toString('utf8') : startAfter;
  const keys = [...bucket.keys()].filter((k) => k.startsWith(prefix) && (after === undefined || compare(k, after) > 0)).sort(compare);
  const page = keys.slice(0, maxKeys);
  const truncated = keys.length > page.length;
  return listBucketXml({
    bucket: name,
    prefix,
    maxKeys,
    continuationToken: token,
    nextContinuationToken: truncated && page.length > 0 ? Buffer.from(page[page.length - 1]!, 'utf8').toString('base64url') : undefined,
    startAfter,
    contents: page.map((key) => {
      const o = bucket.get(key)!;
      return { key, lastModified: o.lastModified, etag: o.etag, size: o.size };
    }),
  });
}
