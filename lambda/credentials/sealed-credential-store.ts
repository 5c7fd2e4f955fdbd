/**
 * Credentials kept sealed in the registry items (`{ "sealed": "v1:..." }`): opened with
 * the state table's data keys (data-key-ring.ts, one KMS Decrypt per container and key
 * version), sealed by the CLI, and replaced in place when an OAuth endpoint rotates a
 * refresh token. No per-mailbox monthly fee and no per-run API call: the cost is the
 * registry item the worker reads anyway.
 */
import { replaceSealedCredential, type ReplaceSealedOptions } from '../registry/replace-sealed-credential';
import type { DataKeyRing } from './data-key-ring';
import { CredentialError, isCredentialError } from './credential-error';
import { describeSlot, type CredentialSlot } from './credential-slot';
import { openSealed, parseSealed, sealValue } from './sealed-value';

export class SealedCredentialStore {
  readonly ring: DataKeyRing;

  constructor(ring: DataKeyRing) {
    this.ring = ring;
  }

  /** The plaintext of a sealed value in `slot`. @throws CredentialError naming the slot */
  async open(value: string, slot: CredentialSlot): Promise<string> {
    const parsed = parseSealed(value, slot);
    const key = await this.inSlot(slot, this.ring.key(parsed.version));
    return openSealed(parsed, slot, key);
  }

  /** Seals `plaintext` for `slot`: with the newest data key (created when there is none), or `version`. */
  async seal(plaintext: string, slot: CredentialSlot, version?: number): Promise<string> {
    const key = await this.inSlot(slot, version === undefined ? this.ring.current() : this.ring.key(version));
    return sealValue(plaintext, slot, key);
  }

  /**
   * Writes `next` (a rotated refresh token) over the sealed value in the mailbox's registry
   * item, sealed with the same key version, if that value still holds `previous`. When it
   * holds something else, an operator replaced the credential meanwhile: theirs stays.
   * @returns false when the value was not replaced (replaced meanwhile, or the mailbox is gone)
   */
  async replace(slot: CredentialSlot, previous: string, next: string): Promise<boolean> {
    return replaceSealedCredential(this.registryTable(), slot, async (current) => {
      if ((await this.open(current, slot)) !== previous) return undefined;
      return this.seal(next, slot, parseSealed(current, slot).version);
    });
  }

  /**
   * Seals the value in `slot` again with data key `version` (after a rotation), unless it
   * already uses it. Conditional like `replace`: a token rotated meanwhile is not lost.
   * @returns true when the value was re-sealed
   */
  async reseal(slot: CredentialSlot, version: number): Promise<boolean> {
    return replaceSealedCredential(this.registryTable(), slot, async (current) => {
      if (parseSealed(current, slot).version === version) return undefined;
      return this.seal(await this.open(current, slot), slot, version);
    });
  }

  private registryTable(): ReplaceSealedOptions {
    return { dynamodb: this.ring.dynamodb, tableName: this.ring.tableName };
  }

  /** Data key errors do not know the mailbox: say which one needed the key. */
  private async inSlot<T>(slot: CredentialSlot, pending: Promise<T>): Promise<T> {
    try {
      return await pending;
    } catch (err) {
      if (!isCredentialError(err)) throw err;
      throw new CredentialError(err.code, `${describeSlot(slot)}: ${err.message}`, { retryable: err.retryable, cause: err });
    }
  }
}
