/**
 * The run ends before the Lambda deadline whatever the server does: at deadline - margin
 * the session is aborted (the engine's own idle timeout, 60 s, is far longer than the
 * deadline here), and the summary, the lease release and the multipart abort still happen.
 */
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunSummary } from '../../lambda/sync/run-summary';
import { startDynamoDbLocal, startS3rver, type LocalDynamo, type LocalS3 } from '../fixtures/aws-local';
import { startFakePop3, type FakeMessage, type FakePop3Options, type FakePop3Server, type FakeSession } from '../fixtures/fake-pop3-server';
import { SimulatedCrash, WorkerBench } from './harness';

const DEADLINE_MS = 8_000;
const MARGIN_MS = 3_000;
const msg = (uid: string, body: string): FakeMessage => ({ uid, bytes: Buffer.from(`Subject: ${uid}\r\n\r\n${body}\r\n`, 'latin1') });

function ok(r: RunSummary | SimulatedCrash): RunSummary {
  if (r instanceof SimulatedCrash) throw r;
  return r;
}

/**
 * RETR of message `n` sends its +OK and `octets` of body, then nothing, ever. Armed only
 * once `armed()` says so: a first run stores the other messages, so that the measured run
 * starts the stalling RETR at once (on a loaded machine, a later start could fall after
 * the point where no new message is started, and nothing would stall).
 */
function stallRetr(n: number, octets: number, armed: () => boolean): FakePop3Options['onCommand'] {
  return async (cmd, s: FakeSession) => {
    if (!armed() || cmd.verb !== 'RETR' || cmd.args[0] !== String(n)) return false;
    const bytes = s.mailbox[n - 1]!.bytes;
    await s.writeLine(`+OK ${bytes.length} octets`);
    await s.write(bytes.subarray(0, octets));
    s.stall();
    return true;
  };
}

describe('the run deadline', () => {
  let s3: LocalS3;
  let dynamo: LocalDynamo;
  const servers: FakePop3Server[] = [];
  beforeAll(async () => {
    [s3, dynamo] = await Promise.all([startS3rver(), startDynamoDbLocal()]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([...servers.map((s) => s.close()), s3?.stop(), dynamo?.stop()]);
  });

  async function setup(options: FakePop3Options): Promise<{ bench: WorkerBench; server: FakePop3Server }> {
    const server = await startFakePop3(options);
    servers.push(server);
    const bench = await WorkerBench.create({
      s3,
      dynamo,
      pop3: { host: '127.0.0.1', port: server.port, tls: 'none', allowPlaintextAuth: true, username: 'alice', password: 'secret' },
      // A small multipart threshold, so the stalled large message is a multipart upload.
      sink: { singlePartMaxOctets: 64 * 1024, partSizeOctets: 5 * 1024 * 1024 },
    });
    return { bench, server };
  }

  async function expectCleanEnd(bench: WorkerBench, summary: RunSummary, started: number): Promise<void> {
    expect(Date.now() - started).toBeLessThan(DEADLINE_MS);
    expect(summary.complete).toBe(false);
    expect(summary.errors.map((e) => e.code)).toContain('DEADLINE');
    // The lease was released: another owner takes it at once.
    expect(await bench.state.acquireLease('box-1', 'next-run', Date.now(), 60_000)).toBe(true);
    const uploads = await s3.s3.send(new ListMultipartUploadsCommand({ Bucket: bench.bucket }));
    expect(uploads.Uploads ?? []).toEqual([]);
  }

  it('a stall in the last RETR ends the run with its summary and lease release before the deadline', async () => {
    let armed = false;
    const { bench, server } = await setup({ messages: [msg('u1', 'one'), msg('u2', 'two')], onCommand: stallRetr(3, 40, () => armed) });
    expect(ok(await bench.run())).toMatchObject({ fetched: 2, complete: true });
    server.addMessages([msg('u3', 'three '.repeat(100))]);
    armed = true;
    const started = Date.now();
    const summary = ok(await bench.run({ deadline: started + DEADLINE_MS, safetyMarginMs: MARGIN_MS }));
    await expectCleanEnd(bench, summary, started);
    expect(summary.fetched).toBe(0);
    expect((await bench.records()).map((r) => r.uid).sort()).toEqual(['u1', 'u2']);
    // Nothing of the stalled message was stored.
    expect((await bench.objects()).size).toBe(2);
  });

  it('a stall in the middle of a multipart upload: the upload is aborted, no partial object', async () => {
    let armed = false;
    const { bench, server } = await setup({ messages: [msg('u1', 'one')], onCommand: stallRetr(2, 5 * 1024 * 1024 + 300 * 1024, () => armed) });
    expect(ok(await bench.run())).toMatchObject({ fetched: 1 });
    server.addMessages([msg('big', 'x'.repeat(6 * 1024 * 1024))]);
    armed = true;
    const started = Date.now();
    const summary = ok(await bench.run({ deadline: started + DEADLINE_MS, safetyMarginMs: MARGIN_MS }));
    await expectCleanEnd(bench, summary, started);
    expect([...(await bench.objects()).keys()]).toHaveLength(1);
  });

  it('an endless RETR near the deadline is cut off there too', async () => {
    let armed = false;
    const endless: FakePop3Options['onCommand'] = async (cmd, s) => {
      if (!armed || cmd.verb !== 'RETR' || cmd.args[0] !== '2') return false;
      await s.writeLine('+OK here it comes');
      const line = Buffer.from(`${'y'.repeat(1022)}\r\n`, 'latin1');
      // Slow enough to stay under the size limit until the deadline; bounded for the test.
      const until = Date.now() + DEADLINE_MS * 2;
      for (let i = 0; i < 20_000 && Date.now() < until; i++) {
        await s.write(line);
        await new Promise((r) => setTimeout(r, 1));
      }
      return true;
    };
    const { bench, server } = await setup({ messages: [msg('u1', 'one')], onCommand: endless });
    expect(ok(await bench.run())).toMatchObject({ fetched: 1 });
    server.addMessages([msg('u2', 'two')]);
    armed = true;
    const started = Date.now();
    const summary = ok(await bench.run({ deadline: started + DEADLINE_MS, safetyMarginMs: MARGIN_MS }));
    await expectCleanEnd(bench, summary, started);
    expect(summary.fetched).toBe(0);
  });
});
