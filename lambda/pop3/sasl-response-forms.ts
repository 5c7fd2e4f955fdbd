import { base64Cores } from './secret-scrubber';

/**
 * The forms in which one SASL response the client sends (an AUTH initial response or the
 * answer to a challenge) could come back from a server that echoes: they are registered
 * with the session's SecretScrubber before the response goes out.
 *
 * - the base64 text, exactly as sent;
 * - the decoded payload read as latin1 (PLAIN, XOAUTH2 and OAUTHBEARER payloads hold the
 *   password or token), except LOGIN's first answer and EXTERNAL's one message, which are
 *   only the user name (registered, every server line that names the user would be cut);
 * - for CRAM-MD5, the hex digest on its own (in both cases), which can be brute-forced offline;
 * - for SCRAM, the client-final message's proof (`p=` value) on its own, and inside any
 *   base64 blob (its cores, see secret-scrubber.ts): with the salt and the iteration count
 *   the server sent, it can be brute-forced offline too. (The
 *   client-first message holds only the user name and a nonce; it is registered anyway, as
 *   every response is, and the client's empty answer to the server-final none.)
 *
 * @param index 0 for the first response of the exchange
 */
export function saslResponseForms(mechanism: string, response: Buffer, index: number): string[] {
  if (response.length === 0) return [];
  const forms = [response.toString('base64')];
  if ((mechanism === 'LOGIN' && index === 0) || mechanism === 'EXTERNAL') return forms;
  const text = response.toString('latin1');
  forms.push(text);
  if (mechanism === 'CRAM-MD5') {
    const digest = text.slice(text.lastIndexOf(' ') + 1);
    forms.push(digest.toLowerCase(), digest.toUpperCase());
  }
  if (mechanism.startsWith('SCRAM-')) {
    // The proof is the client-final message's last attribute (the GS2 header's "p=" is not it).
    const proof = /,p=([^,]+)$/.exec(text)?.[1];
    // Its base64 cores too: a server may send it back inside a blob, at any byte offset.
    if (proof !== undefined) forms.push(proof, ...base64Cores(Buffer.from(proof, 'latin1')));
  }
  return forms;
}
