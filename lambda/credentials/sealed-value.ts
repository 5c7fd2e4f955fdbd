/**
 * Sealed credentials: `v1:<keyVersion>:<base64url(iv | ciphertext | tag)>`, AES-256-GCM
 * under one data key of the state table (data-key-ring.ts). The additional authenticated
 * data binds the value to its mailbox, its field and the key version, so a sealed value
 * copied into another mailbox's configuration, or into another field, does not open: the
 * worker cannot be made to send one mailbox's password to another mailbox's server (the
 * confused deputy of issue 9). Tampering with any byte fails the same way.
 *
 * Pure functions: no I/O, no logging. Errors name the mailbox and the field, never a value.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { describeSlot, sealOptionOf, type CredentialSlot } from './credential-slot';
import { CredentialError, CredentialErrorCode } from './credential-error';

/** The format tag: a later format gets a new one, and old values keep opening. */
export const SEALED_FORMAT = 'v1';
const CIPHER = 'aes-256-gcm';
/** 96-bit IVs, random per value: GCM's recommended size; collisions are negligible at fleet scale. */
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const DATA_KEY_BYTES = 32;
/** Key versions are positive integers; nine digits is far more rotations than anyone makes. */
const SEALED_PATTERN = /^v1:([1-9][0-9]{0,8}):([A-Za-z0-9_-]+)$/;
/**
 * A POP3 password or an OAuth secret is a line of text; 8 KiB leaves room for long JWT-style
 * tokens, and for PEM: an RSA-4096 private key is ~3.3 KB, a certificate with an intermediate ~3-4 KB.
 */
export const MAX_SEALED_PLAINTEXT_BYTES = 8 * 1024;

/** A plaintext data key and its version. */
export interface DataKey {
  readonly version: number;
  readonly bytes: Buffer;
}

/** A sealed value taken apart (not yet opened). */
export interface ParsedSealed {
  readonly version: number;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

/** Whether `value` has the sealed format (says nothing about whether it opens). */
export function isSealedFormat(value: string): boolean {
  return parseSealedOrUndefined(value) !== undefined;
}

/** @throws CredentialError SEALED_INVALID naming the slot */
export function parseSealed(value: string, slot: CredentialSlot): ParsedSealed {
  const parsed = parseSealedOrUndefined(value);
  if (parsed === undefined) {
    throw new CredentialError(
      CredentialErrorCode.SEALED_INVALID,
      `${describeSlot(slot)}: the sealed value is not in the ${SEALED_FORMAT} format ("${SEALED_FORMAT}:<key version>:<base64url>"); seal it again with 'mailfetch mailboxes update --mailbox ${slot.mailboxId} ${sealOptionOf(slot.field)}'`,
    );
  }
  return parsed;
}

/** Seals `plaintext` for `slot` under `key`. */
export function sealValue(plaintext: string, slot: CredentialSlot, key: DataKey): string {
  const bytes = Buffer.from(plaintext, 'utf8');
  if (bytes.length === 0 || bytes.length > MAX_SEALED_PLAINTEXT_BYTES) {
    throw new CredentialError(CredentialErrorCode.SEALED_INVALID, `${describeSlot(slot)}: a credential must be 1 to ${MAX_SEALED_PLAINTEXT_BYTES} bytes`);
  }
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(CIPHER, key.bytes, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(slot, key.version));
  const ciphertext = Buffer.concat([cipher.update(bytes), cipher.final()]);
  return `${SEALED_FORMAT}:${key.version}:${Buffer.concat([iv, ciphertext, cipher.getAuthTag()]).toString('base64url')}`;
}

/**
 * Opens a parsed sealed value with the data key of its version.
 * @throws CredentialError SEALED_MISMATCH when it was sealed for another slot or altered
 */
export function openSealed(parsed: ParsedSealed, slot: CredentialSlot, key: DataKey): string {
  const decipher = createDecipheriv(CIPHER, key.bytes, parsed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData(slot, key.version));
  decipher.setAuthTag(parsed.tag);
  let bytes: Buffer;
  try {
    bytes = Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]);
  } catch {
    // GCM says only "unable to authenticate": the cause stays out (it would say nothing more).
    throw new CredentialError(
      CredentialErrorCode.SEALED_MISMATCH,
      `${describeSlot(slot)}: the sealed value does not open; it was sealed for another mailbox or field, or altered. Seal it for this mailbox: 'mailfetch mailboxes update --mailbox ${slot.mailboxId} ${sealOptionOf(slot.field)}'`,
    );
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new CredentialError(CredentialErrorCode.SEALED_INVALID, `${describeSlot(slot)}: the sealed value is not UTF-8 text`);
  }
}

function parseSealedOrUndefined(value: string): ParsedSealed | undefined {
  const match = SEALED_PATTERN.exec(value);
  if (match === null) return undefined;
  const blob = Buffer.from(match[2]!, 'base64url');
  // base64url decoding skips stray characters silently: a round trip proves the text was canonical.
  if (blob.length <= IV_BYTES + TAG_BYTES || blob.toString('base64url') !== match[2]) return undefined;
  return {
    version: Number(match[1]),
    iv: blob.subarray(0, IV_BYTES),
    ciphertext: blob.subarray(IV_BYTES, blob.length - TAG_BYTES),
    tag: blob.subarray(blob.length - TAG_BYTES),
  };
}

/** What the tag authenticates besides the ciphertext. Mailbox ids cannot contain "|". */
function additionalData(slot: CredentialSlot, version: number): Buffer {
  return Buffer.from(`mailfetch-sealed|${SEALED_FORMAT}|${version}|${slot.mailboxId}|${slot.field}`, 'utf8');
}
