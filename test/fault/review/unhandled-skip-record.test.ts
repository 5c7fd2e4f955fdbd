/**
 * Found in review (a hole in the first version of this change), kept as a regression. HOLE: settle() turns MESSAGE_INCOMPLETE / MESSAGE_TOO_LARGE into recordIncomplete /
 * recordSkipped, which write to DynamoDB; if that write fails, settle() rejects. The
 * `tracked` promise has no handler until the loop next races/awaits inFlight, so a failure
 * that lands while the loop awaits the next RETR reply is an unhandledRejection (Lambda:
 * failed invocation, no summary, lease held).
 */
import { expect, it } from 'vitest';
import { StateStoreError } from '../../../lambda/state/errors';
import type { StateStore } from '../../../lambda/state/state-store';
import { type FakePop3Profile } from '../../fixtures/fake-pop3-server';
import { benchFor, runWith, sleep, useLocalWorld } from './common';

const world = useLocalWorld();

it('a failed "failed"-record write while the loop awaits the next reply is reported, not an unhandled rejection', async () => {
  const seen: unknown[] = [];
  const onUnhandled = (r: unknown): void => void seen.push(r);
  process.on('unhandledRejection', onUnhandled);
  // LIST over-announces message 1 (an estimating server): MESSAGE_INCOMPLETE, not fatal.
  const overAnnounce: FakePop3Profile = { name: 'over', reportedSize: (size, m) => (m.bytes.toString('latin1').includes('one') ? size + 20_000 : size) };
  const server = await world.fake({
    profiles: [overAnnounce],
    onCommand: async (cmd) => {
      if (cmd.verb === 'RETR' && cmd.args[0] === '2') await sleep(1000);
      return false;
    },
  });
  server.deliver('Subject: one\r\n\r\nbody one\r\n');
  server.deliver('Subject: two\r\n\r\nbody two\r\n');
  const bench = await benchFor(world.s3, world.dynamo, server);
  const state = new Proxy(bench.state, {
    get(t, p, r) {
      const v = Reflect.get(t, p, r);
      if (p === 'putRecord')
        return async (id: string, rec: { status: string }) => {
          if (rec.status === 'failed' || rec.status === 'skipped') {
            await sleep(20);
            throw new StateStoreError('THROTTLED', 'PutItem throttled');
          }
          return (v as StateStore['putRecord']).call(t, id, rec as never);
        };
      return typeof v === 'function' ? v.bind(t) : v;
    },
  }) as StateStore;
  const summary = await runWith(bench, server, { state });
  await sleep(200);
  // The failed write is reported in the summary, not lost.
  expect(summary.errors.map((e) => e.code)).toContain('THROTTLED');
  process.off('unhandledRejection', onUnhandled);
  expect(seen).toEqual([]);
}, 60_000);
