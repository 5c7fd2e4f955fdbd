/** The few S3 XML documents the latency model sends, built as strings. */

const XML_HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n';
const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

export function errorXml(code: string, message: string): string {
  return `${XML_HEADER}<Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><RequestId>latency-model</RequestId></Error>`;
}

export function multipartInitiateXml(bucket: string, key: string, uploadId: string): string {
  return (
    `${XML_HEADER}<InitiateMultipartUploadResult xmlns="${S3_NAMESPACE}">` +
    `<Bucket>${escapeXml(bucket)}</Bucket><Key>${escapeXml(key)}</Key><UploadId>${escapeXml(uploadId)}</UploadId></InitiateMultipartUploadResult>`
  );
}

export function multipartCompleteXml(bucket: string, key: string, etag: string): string {
  return (
    `${XML_HEADER}<CompleteMultipartUploadResult xmlns="${S3_NAMESPACE}">` +
    `<Location>/${escapeXml(bucket)}/${escapeXml(key)}</Location><Bucket>${escapeXml(bucket)}</Bucket>` +
    `<Key>${escapeXml(key)}</Key><ETag>${escapeXml(etag)}</ETag></CompleteMultipartUploadResult>`
  );
}

export function listBucketXml(fields: {
  readonly bucket: string;
  readonly prefix: string;
  readonly maxKeys: number;
  readonly continuationToken: string | undefined;
  readonly nextContinuationToken: string | undefined;
  readonly startAfter: string | undefined;
  readonly contents: readonly { key: string; lastModified: Date; etag: string; size: number }[];
}): string {
  const parts = [
    `${XML_HEADER}<ListBucketResult xmlns="${S3_NAMESPACE}">`,
    `<Name>${escapeXml(fields.bucket)}</Name><Prefix>${escapeXml(fields.prefix)}</Prefix>`,
    `<KeyCount>${fields.contents.length}</KeyCount><MaxKeys>${fields.maxKeys}</MaxKeys>`,
    `<IsTruncated>${fields.nextContinuationToken !== undefined}</IsTruncated>`,
  ];
  if (fields.continuationToken !== undefined) parts.push(`<ContinuationToken>${escapeXml(fields.continuationToken)}</ContinuationToken>`);
  if (fields.nextContinuationToken !== undefined) parts.push(`<NextContinuationToken>${escapeXml(fields.nextContinuationToken)}</NextContinuationToken>`);
  if (fields.startAfter !== undefined) parts.push(`<StartAfter>${escapeXml(fields.startAfter)}</StartAfter>`);
  for (const c of fields.contents) {
    parts.push(
      `<Contents><Key>${escapeXml(c.key)}</Key><LastModified>${c.lastModified.toISOString()}</LastModified>` +
        `<ETag>${escapeXml(c.etag)}</ETag><Size>${c.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
  }
  parts.push('</ListBucketResult>');
  return parts.join('');
}
