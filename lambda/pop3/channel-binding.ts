import { createHash } from 'node:crypto';
import type tls from 'node:tls';

/**
 * Channel binding (RFC 5056): data that both ends of one TLS connection compute alike and a
 * man in the middle, who holds two different TLS connections, cannot make match. SCRAM-*-PLUS
 * mixes it into the client's proof, so a proof relayed through another TLS connection fails.
 */
export interface ChannelBinding {
  /** The IANA channel-binding type, sent in the GS2 header (`p=<type>`). */
  readonly type: 'tls-exporter' | 'tls-server-end-point';
  readonly data: Buffer;
}

/** RFC 9266 section 2: 32 octets exported with this label and no context. */
const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';
const EXPORTER_OCTETS = 32;

/**
 * The binding of a TLS connection: `tls-exporter` (RFC 9266) on TLS 1.3, `tls-server-end-point`
 * (RFC 5929) before it (tls-exporter on TLS 1.2 is only safe with the extended master secret,
 * which Node does not let us check, and tls-unique is not defined for TLS 1.3). Undefined when
 * the link has none: no certificate, one whose signature uses no single hash (Ed25519), or
 * a connection that has closed.
 */
export function channelBindingOf(socket: tls.TLSSocket): ChannelBinding | undefined {
  const protocol = socket.getProtocol();
  // A socket that has closed let go of its TLS session: Node answers null, and then null for the certificate too.
  if (protocol === null) return undefined;
  if (protocol === 'TLSv1.3') {
    // RFC 8446 section 7.5: TLS 1.3 makes no difference between an empty context and none.
    return { type: 'tls-exporter', data: socket.exportKeyingMaterial(EXPORTER_OCTETS, EXPORTER_LABEL, Buffer.alloc(0)) };
  }
  const der = socket.getPeerCertificate().raw as Buffer | undefined;
  if (der === undefined || der.length === 0) return undefined;
  const data = tlsServerEndPoint(der);
  return data === undefined ? undefined : { type: 'tls-server-end-point', data };
}

/**
 * RFC 5929 section 4.1: the hash of the server certificate (DER), with the hash function of
 * the certificate's signature, except that MD5 and SHA-1 are replaced by SHA-256.
 */
export function tlsServerEndPoint(certificateDer: Buffer): Buffer | undefined {
  const hash = certificateSignatureHash(certificateDer);
  if (hash === undefined) return undefined;
  return createHash(hash === 'md5' || hash === 'sha1' ? 'sha256' : hash).update(certificateDer).digest();
}

/** Signature algorithm OIDs (RFC 3279, 4055, 5758) and the single hash each one uses. */
const SIGNATURE_HASHES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha1', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha1', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256',
};
/** Hash algorithm OIDs, for RSASSA-PSS parameters. */
const HASH_OIDS: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';

/**
 * The hash function of a certificate's signature (Node does not expose the signature
 * algorithm): Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }.
 * Undefined for an algorithm without a single hash (Ed25519, Ed448) or an unknown one.
 */
export function certificateSignatureHash(der: Buffer): string | undefined {
  try {
    const certificate = readTlv(der, 0, SEQUENCE);
    const tbs = readTlv(der, certificate.start, SEQUENCE);
    const algorithm = readTlv(der, tbs.end, SEQUENCE);
    const oid = readTlv(der, algorithm.start, OBJECT_IDENTIFIER);
    const name = decodeOid(der.subarray(oid.start, oid.end));
    if (name !== RSASSA_PSS) return SIGNATURE_HASHES[name];
    return pssHash(der, oid.end, algorithm.end);
  } catch {
    return undefined;
  }
}

/** RSASSA-PSS-params (RFC 4055): `[0] hashAlgorithm` (default SHA-1) is the one that counts. */
function pssHash(der: Buffer, at: number, end: number): string | undefined {
  if (at >= end) return 'sha1';
  const params = readTlv(der, at, SEQUENCE);
  if (params.start >= params.end || der[params.start] !== HASH_ALGORITHM_TAG) return 'sha1';
  const tagged = readTlv(der, params.start, HASH_ALGORITHM_TAG);
  const algorithm = readTlv(der, tagged.start, SEQUENCE);
  const oid = readTlv(der, algorithm.start, OBJECT_IDENTIFIER);
  return HASH_OIDS[decodeOid(der.subarray(oid.start, oid.end))];
}

const SEQUENCE = 0x30;
const OBJECT_IDENTIFIER = 0x06;
/** [0] EXPLICIT, constructed. */
const HASH_ALGORITHM_TAG = 0xa0;

/** One DER element at `at` with tag `tag`: where its content starts and ends. */
function readTlv(der: Buffer, at: number, tag: number): { start: number; end: number } {
  if (der[at] !== tag) throw new RangeError('unexpected DER tag');
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4) throw new RangeError('unsupported DER length');
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + der[start + i]!;
    start += octets;
  }
  const end = start + length;
  if (end > der.length) throw new RangeError('DER element runs past the end');
  return { start, end };
}

function decodeOid(bytes: Buffer): string {
  const parts: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift() ?? 0;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}
