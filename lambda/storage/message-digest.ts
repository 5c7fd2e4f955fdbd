/**
 * One pass over a message's bytes as they stream past: SHA-256 of the whole, SHA-256 of the
 * body (after the header block's empty line), the header block and the byte count. The
 * sink uses it for what it stores; the sync layer for what a server sends now, to tell
 * whether a message is one already stored.
 */
import { createHash, type Hash } from 'node:crypto';
import { HeaderCapture, capturedBlockFingerprint } from './header-block';

export interface HeaderDigest {
  readonly headerBlock: Buffer;
}

export interface DigestResult extends HeaderDigest {
  readonly size: number;
  readonly sha256: string;
  readonly sha256Base64: string;
  readonly headerFingerprint: string;
  /**
   * SHA-256 (hex) of the body, or undefined when no header block end was found within the
   * capture limit. Header fingerprint plus body hash identify a message's content even when
   * the server rewrites its own header fields (Status:, X-UIDL:) between sessions.
   */
  readonly bodySha256: string | undefined;
}

export class MessageDigest {
  private readonly hash: Hash = createHash('sha256');
  private readonly bodyHash: Hash = createHash('sha256');
  private readonly header = new HeaderCapture();
  private octets = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    const before = this.octets;
    const inHeader = !this.header.done;
    this.header.update(chunk);
    this.octets += chunk.length;
    const bodyOffset = this.header.bodyOffset;
    if (bodyOffset === undefined) return;
    // The chunk that completed the header block holds the body's first bytes.
    this.bodyHash.update(inHeader ? chunk.subarray(bodyOffset - before) : chunk);
  }

  /** What is known before the end: enough for the metadata of a multipart upload. */
  headerResult(): HeaderDigest {
    return { headerBlock: this.header.headerBlock() };
  }

  /** The header fingerprint once the header block arrived whole (before the end of the message). */
  headerFingerprintSoFar(): string | undefined {
    return this.header.complete ? capturedBlockFingerprint(this.header.headerBlock()) : undefined;
  }

  result(): DigestResult {
    const digest = this.hash.digest();
    const headerBlock = this.header.headerBlock();
    return {
      headerBlock,
      size: this.octets,
      sha256: digest.toString('hex'),
      sha256Base64: digest.toString('base64'),
      headerFingerprint: capturedBlockFingerprint(headerBlock),
      bodySha256: this.header.complete ? this.bodyHash.digest('hex') : undefined,
    };
  }
}

type ContentFacts = { readonly sha256?: string | undefined; readonly headerFingerprint?: string | undefined; readonly bodySha256?: string | undefined };

/**
 * Whether two digests describe the same message content: same bytes, or (when both have a
 * body hash) the same header fingerprint and body, so that fields the server maintains
 * itself may differ. With `headersSuffice`, a side without a body hash (a record written
 * before body hashes existed, a message without a header end) is compared by its header
 * fingerprint alone: the same header block is then taken for the same message rather than
 * stored a second time.
 */
export function sameContent(a: ContentFacts, b: ContentFacts, options: { readonly headersSuffice?: boolean } = {}): boolean {
  if (a.sha256 !== undefined && a.sha256 === b.sha256) return true;
  if (a.headerFingerprint === undefined || a.headerFingerprint !== b.headerFingerprint) return false;
  if (a.bodySha256 !== undefined && b.bodySha256 !== undefined) return a.bodySha256 === b.bodySha256;
  return options.headersSuffice === true;
}
