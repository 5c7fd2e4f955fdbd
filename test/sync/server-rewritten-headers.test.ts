/**
 * mbox-based servers (UW ipop3d, qpopper, Dovecot on mbox) write a Status: field into a
 * message once it was read, so its LIST size changes between sessions. That is the same
 * message: it must not be stored a second time (a content identity), and once checked its
 * content must not be read again in every run. A message with the same header block and
 * another body is another message, and is stored.
 */
import { expect, it } from 'vitest';
import { SimulatedCrash } from './harness';
import { benchFor, useLocalWorld } from '../fault/review/common';

const world = useLocalWorld();

const HEAD = 'From: a@example.org\r\nTo: b@example.org\r\nSubject: invoice\r\nMessage-ID: <m1@example.org>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n';

function withStatus(bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from(HEAD), Buffer.from('Status: RO\r\n'), bytes.subarray(HEAD.length)]);
}

async function runOk(bench: Awaited<ReturnType<typeof benchFor>>): Promise<void> {
  const r = await bench.run();
  if (r instanceof SimulatedCrash) throw r;
  expect(r.errors).toEqual([]);
}

it('a Status: field written by the server after retrieval: the same message, one object, checked once', async () => {
  const server = await world.fake({});
  const original = Buffer.from(`${HEAD}\r\nplease pay\r\n`);
  const record = server.deliver(original);
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: 'keep' });
  await runOk(bench);

  server.messages[0]!.bytes = withStatus(record.bytes);
  const retrs = (): number => server.commands.filter((c) => /^RETR /i.test(c.line)).length;
  await runOk(bench);
  const afterCheck = retrs();
  // Another client takes a message out of the middle: the next run compares every record (full diff).
  const other = server.deliver(`From: c@example.org\r\nSubject: other\r\n\r\nx\r\n`);
  await runOk(bench);
  server.deleteByOtherClient(other);
  await runOk(bench);

  const objects = await bench.objects();
  expect(objects.size).toBe(2);
  expect([...objects.values()].filter((b) => b.subarray(0, HEAD.length).toString() === HEAD).map((b) => b.equals(original))).toEqual([true]);
  // Read once to store it, once to check it after the size changed; never again (one more RETR: the other message).
  expect(afterCheck).toBe(2);
  expect(retrs()).toBe(3);
}, 60_000);

it('a message with the same header block and another body after the first left: stored as well', async () => {
  const server = await world.fake({});
  const first = server.deliver(`${HEAD}\r\nplease pay\r\n`, { uid: 'u1' });
  const bench = await benchFor(world.s3, world.dynamo, server, { retention: 'keep' });
  await runOk(bench);
  server.deleteByOtherClient(first);
  // A server that recycles UIDLs hands the freed one to the next message.
  const twin = server.deliver(`${HEAD}\r\nplease pay twice as much, and soon\r\n`, { uid: 'u1' });
  await runOk(bench);
  await runOk(bench);

  const stored = [...(await bench.objects()).values()];
  expect(stored.some((b) => b.equals(first.bytes))).toBe(true);
  expect(stored.some((b) => b.equals(twin.bytes))).toBe(true);
  expect(stored.length).toBe(2);
}, 60_000);
