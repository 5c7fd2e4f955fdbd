/**
 * `--client-certificate FILE --client-key FILE`: a TLS client certificate and its key, read
 * from their PEM files and checked together (both decode, the key is the certificate's, the
 * certificate has not expired) before either is sealed, as a password from standard input is.
 * Errors name the option and the file, never a byte of its content.
 */
import { createReadStream } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { checkClientCertificate, type ClientCertificate } from '../credentials/client-certificate';
import { isCredentialError } from '../credentials/credential-error';
import { MAX_SEALED_PLAINTEXT_BYTES } from '../credentials/sealed-value';
import type { CliIo } from './cli-io';
import { UsageError } from './exit-codes';

export const CLIENT_CERTIFICATE_OPTIONS = {
  'client-certificate': { type: 'string' },
  'client-key': { type: 'string' },
} as const;

export interface ClientCertificateFlags {
  readonly 'client-certificate'?: string | undefined;
  readonly 'client-key'?: string | undefined;
}

/**
 * Whether the flags give a certificate and key.
 * @throws UsageError when one comes without the other, or names no file
 */
export function wantsClientCertificate(flags: ClientCertificateFlags, command: string): boolean {
  const cert = flags['client-certificate'];
  const key = flags['client-key'];
  if (cert === undefined && key === undefined) return false;
  if (cert === undefined || key === undefined) {
    throw new UsageError('--client-certificate FILE and --client-key FILE go together: a key is only used with its certificate', command);
  }
  if (cert === '' || key === '') throw new UsageError('--client-certificate and --client-key need a file name', command);
  return true;
}

/** Both files, checked as a pair for `mailboxId`. @throws UsageError */
export async function readClientCertificateFiles(io: CliIo, mailboxId: string, flags: ClientCertificateFlags, command: string): Promise<ClientCertificate> {
  const cert = await readPemFile(io, '--client-certificate', flags['client-certificate']!, command);
  const key = await readPemFile(io, '--client-key', flags['client-key']!, command);
  try {
    checkClientCertificate(mailboxId, cert, key);
  } catch (err) {
    if (isCredentialError(err)) throw new UsageError(`${err.message} (read from ${flags['client-certificate']} and ${flags['client-key']}); nothing was changed`, command);
    throw err;
  }
  return { cert, key };
}

async function readPemFile(io: CliIo, option: string, path: string, command: string): Promise<string> {
  const chunks: Buffer[] = [];
  try {
    // One byte past the limit at most: a pipe that never ends or a device (/dev/urandom) is
    // refused once it is too long, instead of read to an end that may never come.
    for await (const chunk of createReadStream(isAbsolute(path) ? path : resolve(io.cwd, path), { end: MAX_SEALED_PLAINTEXT_BYTES })) chunks.push(chunk as Buffer);
  } catch (err) {
    throw new UsageError(`${option} ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? 'read error'})`, command);
  }
  const bytes = Buffer.concat(chunks);
  if (bytes.length > MAX_SEALED_PLAINTEXT_BYTES) {
    throw new UsageError(
      `${option} ${path}: more than the ${MAX_SEALED_PLAINTEXT_BYTES} bytes a sealed value holds; give the certificate and its intermediates only (no root), or keep it in Secrets Manager ({ "secretId": ... })`,
      command,
    );
  }
  return bytes.toString('utf8');
}
