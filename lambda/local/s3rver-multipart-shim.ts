/**
 * Adds the two multipart operations s3rver 3.7.1 lacks: ListMultipartUploads (it answers
 * 501 NotImplemented) and AbortMultipartUpload (405 MethodNotAllowed).
 *
 * Why: `@aws-sdk/lib-storage`'s Upload sends AbortMultipartUpload whenever a multipart
 * upload fails (e.g. the POP3 connection drops mid-message); against plain s3rver that
 * abort fails with MethodNotAllowed and lib-storage throws *that* instead of the real
 * error. Tests also want to assert "no orphaned multipart upload".
 *
 * It works on s3rver's filesystem layout, which is private to s3rver and therefore
 * pinned with the package version: an upload lives in
 * `<directory>/<bucket>/._S3rver_uploads/<uploadId>/` holding the files `key`,
 * `metadata` and one file per part. Deliberately simple: no pagination, no key/upload-id
 * markers, no delimiter (only `prefix` is honoured), and no signature check on these
 * two requests (the server only listens on loopback).
 */
import { readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type S3rver from 's3rver';
import type { S3rverContext, S3rverMiddleware } from 's3rver';

const UPLOADS_DIR = '._S3rver_uploads';
const S3_XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
/** s3rver's fixed identity; real S3 reports the caller here. */
const LOCAL_OWNER = { ID: '123456789000', DisplayName: 'S3rver' };

interface PendingUpload {
  key: string;
  uploadId: string;
  initiated: Date;
}

interface ParsedPath {
  bucket: string;
  key: string;
}

/** Installs the shim in front of s3rver's router; call before `run()`. */
export function installMultipartShim(s3rver: S3rver, directory: string): void {
  // s3rver's constructor registers its router last; Koa composes the stack on listen().
  s3rver.middleware.splice(s3rver.middleware.length - 1, 0, multipartShim(directory));
}

function multipartShim(directory: string): S3rverMiddleware {
  return async (ctx, next) => {
    const path = parsePath(ctx.path);
    if (!path || !(await isDirectory(join(directory, path.bucket)))) return next();
    if (ctx.method === 'GET' && path.key === '' && 'uploads' in ctx.query) {
      return listMultipartUploads(ctx, directory, path.bucket);
    }
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && path.key !== '' && typeof uploadId === 'string') {
      return abortMultipartUpload(ctx, directory, path, uploadId);
    }
    return next();
  };
}

/** Path-style only ("/bucket/key"), which is what the embedded clients use. */
function parsePath(rawPath: string): ParsedPath | undefined {
  const match = /^\/([^/]+)(?:\/(.*))?$/.exec(rawPath);
  if (!match?.[1]) return undefined;
  try {
    return { bucket: decodeURIComponent(match[1]), key: decodeURIComponent(match[2] ?? '') };
  } catch {
    return undefined; // malformed percent-encoding: let s3rver answer
  }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

async function readPendingUploads(directory: string, bucket: string): Promise<PendingUpload[]> {
  const uploadsDir = join(directory, bucket, UPLOADS_DIR);
  let uploadIds: string[];
  try {
    uploadIds = await readdir(uploadsDir);
  } catch {
    return []; // no upload was ever initiated in this bucket
  }
  const uploads = await Promise.all(uploadIds.map((id) => readPendingUpload(join(uploadsDir, id), id)));
  return uploads.filter((upload): upload is PendingUpload => upload !== undefined);
}

async function readPendingUpload(uploadDir: string, uploadId: string): Promise<PendingUpload | undefined> {
  try {
    const [key, info] = await Promise.all([readFile(join(uploadDir, 'key'), 'utf8'), stat(uploadDir)]);
    return { key, uploadId, initiated: info.birthtime.getTime() > 0 ? info.birthtime : info.mtime };
  } catch {
    // A part uploaded after an abort re-creates the directory without a `key` file: not an upload.
    return undefined;
  }
}

async function listMultipartUploads(ctx: S3rverContext, directory: string, bucket: string): Promise<void> {
  const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
  const uploads = (await readPendingUploads(directory, bucket))
    .filter((upload) => upload.key.startsWith(prefix))
    .sort((a, b) => a.key.localeCompare(b.key) || a.initiated.getTime() - b.initiated.getTime());
  ctx.status = 200;
  ctx.body = {
    ListMultipartUploadsResult: {
      '@': { xmlns: S3_XMLNS },
      Bucket: bucket,
      KeyMarker: '',
      UploadIdMarker: '',
      Prefix: prefix,
      MaxUploads: 1000,
      IsTruncated: false,
      Upload: uploads.map((upload) => ({
        Key: upload.key,
        UploadId: upload.uploadId,
        Initiator: LOCAL_OWNER,
        Owner: LOCAL_OWNER,
        StorageClass: 'STANDARD',
        Initiated: upload.initiated.toISOString(),
      })),
    },
  };
}

async function abortMultipartUpload(
  ctx: S3rverContext,
  directory: string,
  path: ParsedPath,
  uploadId: string,
): Promise<void> {
  const upload = /^[0-9a-f]+$/.test(uploadId)
    ? await readPendingUpload(join(directory, path.bucket, UPLOADS_DIR, uploadId), uploadId)
    : undefined;
  if (!upload || upload.key !== path.key) {
    ctx.status = 404;
    ctx.body = {
      Error: {
        Code: 'NoSuchUpload',
        Message:
          'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        UploadId: uploadId,
      },
    };
    return;
  }
  await rm(join(directory, path.bucket, UPLOADS_DIR, uploadId), { recursive: true, force: true });
  ctx.status = 204;
  ctx.body = null;
}
