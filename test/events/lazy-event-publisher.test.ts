/** LazyEventPublisher: nothing loaded until the first publish, then one load for every publish. */
import { describe, expect, it } from 'vitest';
import type { EventPublisher } from '../../lambda/events/event-publisher';
import { LazyEventPublisher } from '../../lambda/events/lazy-event-publisher';
import type { MailStoredDetail } from '../../lambda/events/mail-stored-detail';

const detail = (eventId: string) => ({ eventId }) as MailStoredDetail;

describe('LazyEventPublisher', () => {
  it('loads its publisher on the first publish, once, and passes every batch and result through', async () => {
    let loads = 0;
    const seen: string[][] = [];
    const inner: EventPublisher = {
      publish: async (details) => {
        seen.push(details.map((d) => d.eventId));
        return { published: details.map((d) => d.eventId), failed: [] };
      },
    };
    const publisher = new LazyEventPublisher(async () => {
      loads += 1;
      return inner;
    });
    expect(loads).toBe(0);
    const results = await Promise.all([publisher.publish([detail('a')]), publisher.publish([detail('b'), detail('c')])]);
    expect(loads).toBe(1);
    expect(results).toEqual([
      { published: ['a'], failed: [] },
      { published: ['b', 'c'], failed: [] },
    ]);
    expect(seen).toEqual([['a'], ['b', 'c']]);
  });

  it('rejects the publish when its publisher cannot be loaded (the outbox keeps the events)', async () => {
    const publisher = new LazyEventPublisher(() => Promise.reject(new Error('chunk missing')));
    await expect(publisher.publish([detail('a')])).rejects.toThrow('chunk missing');
  });
});
