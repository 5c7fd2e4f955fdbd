import type { SaslMechanism } from './sasl';

/**
 * SASL EXTERNAL (RFC 4422 appendix A): the identity is the one the TLS client certificate
 * established; the one message is the authorization identity the client asks for, sent as
 * the initial response (RFC 5034: `AUTH EXTERNAL <base64>`, or `AUTH EXTERNAL =` when empty).
 *
 * - With `authzid`, the server logs in as that user only if the certificate's identity may
 *   act as it. `openSession` sends the mailbox's username, so a certificate that names
 *   another user fails instead of opening that user's mailbox: Dovecot 2.3 accepts the name
 *   when it is the certificate's own user, and refuses any other without master passdbs.
 * - Without one (empty), the server derives the identity from the certificate alone.
 */
export function externalMechanism(authzid?: string): SaslMechanism {
  return {
    name: 'EXTERNAL',
    initialResponse: Buffer.from(authzid ?? '', 'utf8'),
    // The initial response was the one message (or, when too long for the command line, the
    // answer to the first challenge: pop3-client.ts): any further challenge gets an empty answer.
    respond: () => Buffer.alloc(0),
  };
}
