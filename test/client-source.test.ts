/** ClientSource: a client as it is, or made on first use; `once` makes it once per container. */
import { describe, expect, it } from 'vitest';
import { clientOf, once } from '../lambda/client-source';

describe('clientOf', () => {
  it('returns a client as it is, and calls a maker', async () => {
    const client = { send: () => 'sent' };
    expect(await clientOf(client)).toBe(client);
    expect(await clientOf(async () => client)).toBe(client);
  });
});

describe('once', () => {
  it('makes the value on the first call and shares it, also with calls made meanwhile', async () => {
    let made = 0;
    const get = once(async () => ({ n: ++made }));
    expect(made).toBe(0);
    const [a, b] = await Promise.all([get(), get()]);
    expect(a).toBe(b);
    expect(await get()).toBe(a);
    expect(made).toBe(1);
  });

  it('does not keep a failure: the next call makes it again', async () => {
    let attempts = 0;
    const get = once(async () => {
      attempts += 1;
      if (attempts === 1) throw new Error('first try fails');
      return 'made';
    });
    await expect(get()).rejects.toThrow('first try fails');
    expect(await get()).toBe('made');
    expect(attempts).toBe(2);
  });
});
