// The fake POP3 server's SASL plumbing, shared by every mechanism (fake-pop3-auth.ts,
// fake-scram.ts): continuations, replies that end an exchange, and the two fixed outcomes.
import type { AuthContext, AuthOutcome } from './fake-pop3-auth';
import { decodeBase64 } from './fake-pop3-wire';

export const FAILED: AuthOutcome = { kind: 'failed' };
export const REPLIED: AuthOutcome = { kind: 'replied' };

/**
 * Sends a "+ <base64>" continuation and returns the decoded answer; null when the exchange
 * is over: cancelled with "*", undecodable (both answered here), or the connection is gone.
 */
export async function challenge(ctx: AuthContext, base64: string): Promise<Buffer | null> {
  await ctx.writeLine(`+ ${base64}`);
  const line = await ctx.readContinuation();
  if (line === null) return null;
  const text = line.toString('latin1');
  if (text === '*') {
    await ctx.writeLine('-ERR Authentication cancelled');
    return null;
  }
  const decoded = decodeBase64(text);
  if (!decoded) await ctx.writeLine('-ERR invalid base64 in SASL response');
  return decoded;
}

/** Ends the exchange with its own reply. */
export async function reply(ctx: AuthContext, line: string): Promise<AuthOutcome> {
  await ctx.writeLine(line);
  return REPLIED;
}

export function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
