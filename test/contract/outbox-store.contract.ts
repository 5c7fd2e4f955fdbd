/**
 * What every OutboxStore promises (lambda/state/outbox-store.ts), run against each backend:
 * batches written durably and listed oldest first per mailbox, settled down to what is
 * left and removed when nothing is, untouched by the mailbox's records, removed with the
 * mailbox; a seeded sequence checks them against a model.
 */
import { describe, expect, it } from 'vitest';
import { MAX_OUTBOX_IDENTITIES, type OutboxBatch, type OutboxStore } from '../../lambda/state/outbox-store';
import type { StateStore } from '../../lambda/state/state-store';
import { Prng } from '../fault/prng';

export interface OutboxStoreFixture {
  /** An outbox store and the state store of the same (fresh) table. */
  create(): Promise<{ outbox: OutboxStore; state: StateStore }>;
}

const MAILBOX = 'acme.support';
const OTHER = 'acme.billing';
const SEEDS = [1, 2, 3];
const STEPS = 30;

function at(second: number): string {
  return new Date(Date.UTC(2026, 11, 6, 10, 0, second)).toISOString();
}

export function outboxStoreContract(name: string, fixture: OutboxStoreFixture): void {
  describe(`OutboxStore contract: ${name}`, () => {
    it('lists what was added, oldest first, per mailbox, up to the limit', async () => {
      const { outbox } = await fixture.create();
      const first = await outbox.add(MAILBOX, ['u1', 'u2'], at(1));
      const second = await outbox.add(MAILBOX, ['u3'], at(2));
      await outbox.add(OTHER, ['x1'], at(0));

      expect(await outbox.list(MAILBOX, 10)).toEqual([first, second]);
      expect(await outbox.list(MAILBOX, 1)).toEqual([first]);
      expect((await outbox.list(OTHER, 10)).map((b) => b.identities)).toEqual([['x1']]);
      expect(first).toMatchObject({ identities: ['u1', 'u2'], createdAt: at(1) });
    });

    it('settles a batch down to what is left and removes it when nothing is; settling a removed batch is no error', async () => {
      const { outbox } = await fixture.create();
      const batch = await outbox.add(MAILBOX, ['u1', 'u2', 'u3'], at(1));

      await outbox.settle(MAILBOX, batch, ['u2']);
      expect((await outbox.list(MAILBOX, 10)).map((b) => b.identities)).toEqual([['u2']]);
      await outbox.settle(MAILBOX, batch, []);
      expect(await outbox.list(MAILBOX, 10)).toEqual([]);
      await outbox.settle(MAILBOX, batch, ['u2']);
      expect(await outbox.list(MAILBOX, 10)).toEqual([]);
    });

    it('keeps identities of any characters and up to 25 per batch; refuses an empty or larger batch', async () => {
      const { outbox } = await fixture.create();
      const identities = Array.from({ length: MAX_OUTBOX_IDENTITIES }, (_, i) => `~fp-${'é'.repeat(i)}/${i} x`);
      await outbox.add(MAILBOX, identities, at(1));
      expect((await outbox.list(MAILBOX, 10))[0]?.identities).toEqual(identities);
      await expect(outbox.add(MAILBOX, [], at(2))).rejects.toMatchObject({ code: 'INVALID' });
      await expect(outbox.add(MAILBOX, [...identities, 'one more'], at(2))).rejects.toMatchObject({ code: 'INVALID' });
    });

    it('is invisible to the record listing and goes with resetMailbox', async () => {
      const { outbox, state } = await fixture.create();
      await outbox.add(MAILBOX, ['u1'], at(1));
      const records = [];
      for await (const record of state.listRecords(MAILBOX)) records.push(record);
      expect(records).toEqual([]);
      await state.resetMailbox(MAILBOX);
      expect(await outbox.list(MAILBOX, 10)).toEqual([]);
    });

    it('writes nothing once the signal aborted', async () => {
      const { outbox } = await fixture.create();
      const aborted = AbortSignal.abort();
      await expect(outbox.add(MAILBOX, ['u1'], at(1), { signal: aborted })).rejects.toMatchObject({ code: 'ABORTED' });
      expect(await outbox.list(MAILBOX, 10)).toEqual([]);
    });

    it.each(SEEDS)('matches a model over a seeded sequence of adds and settles (seed %i)', async (seed) => {
      const { outbox } = await fixture.create();
      const prng = new Prng(seed);
      const model: OutboxBatch[] = [];
      for (let step = 0; step < STEPS; step++) {
        if (model.length === 0 || prng.chance(0.5)) {
          const identities = Array.from({ length: prng.int(1, MAX_OUTBOX_IDENTITIES) }, (_, i) => `s${step}-${i}`);
          model.push(await outbox.add(MAILBOX, identities, at(step)));
        } else {
          const index = prng.int(0, model.length - 1);
          const batch = model[index]!;
          const remaining = batch.identities.filter(() => prng.chance(0.4));
          await outbox.settle(MAILBOX, batch, remaining);
          if (remaining.length === 0) model.splice(index, 1);
          else model[index] = { ...batch, identities: remaining };
        }
        expect(await outbox.list(MAILBOX, 1_000), `seed ${seed} step ${step}`).toEqual(model);
      }
    });
  });
}
