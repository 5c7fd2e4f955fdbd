/**
 * The forms in which one SASL response the client sends (an AUTH initial response or the
 * answer to a challenge) could come back from a server that echoes: they are registered
 * with the session's SecretScrubber before the response goes out.
 *
 * - the base64 text, exactly as sent;
 * - the decoded payload read as latin1 (PLAIN, XOAUTH2 and OAUTHBEARER payloads hold the
 *   password or token), except LOGIN's first answer, which is only the user name;
 * - for CRAM-MD5, the hex digest on its own (in both cases), which can be brute-forced offline.
 *
 * @param index 0 for the first response of the exchange
 */
export function saslResponseForms(mechanism: string, response: Buffer, index: number): string[] {
  if (response.length === 0) return [];
  const forms = [response.toString('base64')];
  if (mechanism === 'LOGIN' && index === 0) return forms;
  const text = response.toString('latin1');
  forms.push(text);
  if (mechanism === 'CRAM-MD5') {
    const digest = text.slice(text.lastIndexOf(' ') + 1);
    forms.push(digest.toLowerCase(), digest.toUpperCase());
  }
  return forms;
}
