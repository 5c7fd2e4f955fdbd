/**
 * The one decision behind the ordering rule for servers that remove retrieved mail, and the
 * retentions a server's EXPIRE overrules (pure functions).
 */
import { describe, expect, it } from 'vitest';
import { RETENTION_OVERRULED, retentionConflict, retrievalRule } from '../../lambda/sync/retrieval-rule';

const policy = (expireDays: number | 'never' | undefined): { expireDays: number | 'never' | undefined; loginDelaySeconds: undefined } => ({ expireDays, loginDelaySeconds: undefined });

describe('retrievalRule', () => {
  it('Gmail (hidesRetrievedMail) and EXPIRE 0 remove retrieved mail at QUIT; only EXPIRE 0 counts TOP as reading', () => {
    expect(retrievalRule({ hidesRetrievedMail: true }, policy(undefined))).toEqual({ removedAtQuit: true, topRemoves: false });
    expect(retrievalRule({}, policy(0))).toEqual({ removedAtQuit: true, topRemoves: true });
    expect(retrievalRule({ hidesRetrievedMail: true }, policy(0))).toEqual({ removedAtQuit: true, topRemoves: true });
    for (const days of [undefined, 'never', 1, 30] as const) expect(retrievalRule({}, policy(days))).toEqual({ removedAtQuit: false, topRemoves: false });
  });
});

describe('retentionConflict', () => {
  it('keep, or deleteAfterDays longer than EXPIRE, is overruled; delete, or a shorter deleteAfterDays, is not', () => {
    expect(retentionConflict('keep', policy(0))).toMatchObject({ code: RETENTION_OVERRULED, message: expect.stringMatching(/^retention is "keep", but the server announces EXPIRE 0: it deletes every message a session read/) });
    expect(retentionConflict({ deleteAfterDays: 7 }, policy(0))?.message).toMatch(/^retention is deleteAfterDays 7, but the server announces EXPIRE 0/);
    expect(retentionConflict('keep', policy(1))?.message).toMatch(/EXPIRE 1: it may delete a message 1 day after a session read it/);
    expect(retentionConflict({ deleteAfterDays: 30 }, policy(7))?.code).toBe(RETENTION_OVERRULED);
    expect(retentionConflict({ deleteAfterDays: 7 }, policy(7))).toBeUndefined();
    expect(retentionConflict('delete', policy(0))).toBeUndefined();
    expect(retentionConflict('keep', policy('never'))).toBeUndefined();
    expect(retentionConflict('keep', policy(undefined))).toBeUndefined();
  });
});
