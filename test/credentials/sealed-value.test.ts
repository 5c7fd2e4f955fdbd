/**
 * The sealed format on its own: AES-256-GCM bound to mailbox, field and key version. Every
 * failure is a typed CredentialError naming the mailbox and field, never the value.
 * Comparisons with a canary are booleans, so a failing test prints no secret.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialError, CredentialErrorCode } from '../../lambda/credentials/credential-error';
import type { CredentialSlot } from '../../lambda/credentials/credential-slot';
import { isSealedFormat, openSealed, parseSealed, sealValue, type DataKey } from '../../lambda/credentials/sealed-value';
import { CANARIES as canaries } from '../fault/regressions/secret-forms';

const key: DataKey = { version: 1, bytes: randomBytes(32) };
const support: CredentialSlot = { mailboxId: 'support', field: 'password' };
const open = (value: string, slot: CredentialSlot, k: DataKey = key): string => openSealed(parseSealed(value, slot), slot, k);

function failure(run: () => unknown): CredentialError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CredentialError);
    return err as CredentialError;
  }
  throw new Error('expected a CredentialError');
}

describe('sealed values', () => {
  it('round-trips any text, and seals the same text differently every time', () => {
    for (const plaintext of [canaries.password, canaries.oneCharPassword, canaries.refreshToken, 'x'.repeat(8192)]) {
      const sealed = sealValue(plaintext, support, key);
      expect(sealed).toMatch(/^v1:1:[A-Za-z0-9_-]+$/);
      expect(isSealedFormat(sealed)).toBe(true);
      expect(open(sealed, support) === plaintext, 'round trip').toBe(true);
    }
    expect(sealValue('same', support, key)).not.toBe(sealValue('same', support, key));
  });

  it('does not open in another mailbox or another field: a typed error naming the slot, not the value', () => {
    const sealed = sealValue(canaries.password, support, key);
    for (const slot of [
      { mailboxId: 'billing', field: 'password' },
      { mailboxId: 'support', field: 'clientSecret' },
      { mailboxId: 'support', field: 'refreshToken' },
    ] as const) {
      const err = failure(() => open(sealed, slot));
      expect(err).toMatchObject({ code: CredentialErrorCode.SEALED_MISMATCH, retryable: false });
      expect(err.message).toContain(`mailbox "${slot.mailboxId}" ${slot.field}`);
      expect(err.message).toContain(`mailfetch mailboxes update --mailbox ${slot.mailboxId}`);
      expect(err.message.includes(canaries.password) || err.message.includes(sealed), 'message quotes a value').toBe(false);
    }
  });

  it('detects tampering with any part: iv, ciphertext, tag, key version; and a wrong key', () => {
    const sealed = sealValue(canaries.password, support, key);
    const [format, version, body] = sealed.split(':') as [string, string, string];
    const blob = Buffer.from(body, 'base64url');
    for (const offset of [0, 12, blob.length - 1]) {
      const altered = Buffer.from(blob);
      altered[offset]! ^= 0x01;
      expect(failure(() => open(`${format}:${version}:${altered.toString('base64url')}`, support)).code).toBe(CredentialErrorCode.SEALED_MISMATCH);
    }
    // The version is authenticated too: relabelled under a key of another version, it fails.
    expect(failure(() => open(`${format}:2:${body}`, support, { version: 2, bytes: key.bytes })).code).toBe(CredentialErrorCode.SEALED_MISMATCH);
    expect(failure(() => open(sealed, support, { version: 1, bytes: randomBytes(32) })).code).toBe(CredentialErrorCode.SEALED_MISMATCH);
  });

  it('refuses what is not a sealed value without quoting it', () => {
    for (const value of ['', canaries.password, 'v1:1:', 'v2:1:AAAA', 'v1:0:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'v1:1:short', `v1:1:${'A'.repeat(40)}=`]) {
      const err = failure(() => parseSealed(value, support));
      expect(err.code).toBe(CredentialErrorCode.SEALED_INVALID);
      expect(err.message).toContain('mailbox "support" password');
      if (value.length >= 6) expect(err.message.includes(value), 'message quotes the value').toBe(false);
    }
    expect(failure(() => sealValue('', support, key)).code).toBe(CredentialErrorCode.SEALED_INVALID);
  });
});
