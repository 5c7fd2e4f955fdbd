/** The storage-agnostic parts: sync plans, the file registry, health from summaries, trouble order. */
import { describe, expect, it } from 'vitest';
import { parseConfig, parseMailbox } from '../../lambda/config/validate-config';
import type { MailboxConfig } from '../../lambda/config/mailbox-config';
import { RegistryErrorCode } from '../../lambda/registry/errors';
import { FileMailboxRegistry } from '../../lambda/registry/file-mailbox-registry';
import { MAX_HEALTH_ERROR_MESSAGE_CHARS, compareByTrouble, runOutcome, troubleOf } from '../../lambda/registry/health';
import type { MailboxHealth, RegisteredMailbox } from '../../lambda/registry/mailbox-registry';
import { planSync } from '../../lambda/registry/registry-sync';
import { emptySummary } from '../../lambda/sync/run-summary';

function config(id: string, fields: Record<string, unknown> = {}): MailboxConfig {
  return parseMailbox({ id, host: 'pop.example.org', username: 'u', password: { secretId: `mail/${id}` }, ...fields });
}

function registered(id: string, health: Partial<MailboxHealth> = {}, enabled = true): RegisteredMailbox {
  return { config: config(id), enabled, health: { consecutiveFailures: 0, ...health }, configVersion: 1 };
}

describe('planSync', () => {
  it('adds, updates (naming the fields), removes and leaves alone', () => {
    const current = [registered('same'), registered('changed'), registered('dropped')];
    const wanted = [config('same'), config('changed', { port: 1995, tls: 'starttls' }), config('new')];

    const plan = planSync(wanted, current);

    expect(plan.map(({ mailbox, change, fields }) => ({ mailbox, change, fields }))).toEqual([
      { mailbox: 'same', change: 'unchanged', fields: undefined },
      { mailbox: 'changed', change: 'updated', fields: ['port', 'tls'] },
      { mailbox: 'new', change: 'added', fields: undefined },
      { mailbox: 'dropped', change: 'removed', fields: undefined },
    ]);
  });

  it('with removeMissing false, mailboxes the list does not name stay', () => {
    expect(planSync([config('a')], [registered('b')], { removeMissing: false }).map((c) => c.change)).toEqual(['added']);
  });
});

describe('FileMailboxRegistry', () => {
  const file = new FileMailboxRegistry(parseConfig({ mailboxes: [config('one'), config('two')] }), 'fleet.json');

  it('lists the file\'s mailboxes in order, all enabled, and refuses every configuration change', async () => {
    expect((await file.list()).map((m) => [m.config.id, m.enabled])).toEqual([['one', true], ['two', true]]);
    expect(await file.get('three')).toBeUndefined();
    await expect(file.add()).rejects.toMatchObject({ code: RegistryErrorCode.REGISTRY_READ_ONLY, message: expect.stringContaining('file fleet.json') });
    await expect(file.remove()).rejects.toMatchObject({ code: RegistryErrorCode.REGISTRY_READ_ONLY });
  });

  it('keeps health in memory, as the table would', async () => {
    await file.recordRun('one', { action: 'fetch', status: 'error', at: 't1', backlog: 0, durationMs: 1, error: { code: 'AUTH_FAILED', message: 'no' } });
    await file.recordRun('one', { action: 'fetch', status: 'error', at: 't2', backlog: 0, durationMs: 1, error: { code: 'AUTH_FAILED', message: 'no' } });

    expect((await file.get('one'))?.health).toMatchObject({ consecutiveFailures: 2, lastErrorCode: 'AUTH_FAILED', lastRunAt: 't2' });
    expect(await file.recordRun('three', { action: 'fetch', status: 'ok', at: 't', backlog: 0, durationMs: 1 })).toBe(false);
  });
});

describe('health', () => {
  it('a summary with any error is a failed run; the first error is kept, cut to size', () => {
    const summary = { ...emptySummary('m'), backlog: 3, errors: [{ code: 'MESSAGE_INCOMPLETE', message: 'x'.repeat(2000), retryable: true }, { code: 'OTHER', message: 'y', retryable: false }] };

    const outcome = runOutcome(summary, 'fetch', new Date('2026-02-03T04:05:06.000Z'));

    expect(outcome).toMatchObject({ status: 'error', backlog: 3, at: '2026-02-03T04:05:06.000Z', error: { code: 'MESSAGE_INCOMPLETE' } });
    expect(outcome.error!.message).toHaveLength(MAX_HEALTH_ERROR_MESSAGE_CHARS);
    expect(runOutcome({ ...emptySummary('m'), status: 'busy' }, 'baseline').status).toBe('busy');
    expect(runOutcome(emptySummary('m'), 'fetch').status).toBe('ok');
    // A server's LOGIN-DELAY is no failure; it goes to the health for the dispatcher.
    const loginDelay = { seconds: 900, nextLoginAt: '2026-02-03T04:20:06.000Z' };
    expect(runOutcome({ ...emptySummary('m'), loginDelay }, 'fetch')).toMatchObject({ status: 'ok', loginDelay });
  });

  it('sorts by trouble: failing (most failures first), never succeeded, backlog, ok (stalest first), disabled', () => {
    const mailboxes = [
      registered('off', { consecutiveFailures: 9 }, false),
      registered('fine-recent', { lastSuccessAt: '2026-01-02T00:00:00.000Z' }),
      registered('fine-stale', { lastSuccessAt: '2026-01-01T00:00:00.000Z' }),
      registered('behind', { lastSuccessAt: '2026-01-02T00:00:00.000Z', backlog: 40 }),
      registered('new'),
      registered('failing-1', { consecutiveFailures: 1, lastSuccessAt: '2026-01-01T00:00:00.000Z' }),
      registered('failing-5', { consecutiveFailures: 5 }),
    ];

    const sorted = [...mailboxes].sort(compareByTrouble);

    expect(sorted.map((m) => m.config.id)).toEqual(['failing-5', 'failing-1', 'new', 'behind', 'fine-stale', 'fine-recent', 'off']);
    expect(sorted.map(troubleOf)).toEqual(['failing', 'failing', 'never-succeeded', 'backlog', 'ok', 'ok', 'disabled']);
  });
});
