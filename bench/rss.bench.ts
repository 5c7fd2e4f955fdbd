/**
 * Peak RSS of one process that fetches one large message through the engine, into a
 * discarding Writable or into the S3 sink, at the sizes bench/run.ts asks for (`rssSizes`);
 * plus a baseline process that loads the same modules and fetches nothing. A streaming
 * engine's peak stays flat as the message grows; the S3 sink is bounded by its buffers (one
 * PutObject up to 16 MiB, then (queueSize + 1) reused part buffers), not by the message.
 * VmHWM is the fetching process's own (bench/client.ts): s3rver, Dovecot and this
 * process are not counted.
 */
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { ClientMode } from './client';
import { log, median } from './common';
import { runClient, type Environment } from './throughput.bench';

export interface RssSize {
  readonly user: string;
  readonly octets: number;
}

export interface RssRow {
  readonly mode: 'baseline' | 'discard' | 's3';
  /** Message size on disk (0 for the baseline). */
  readonly octets: number;
  /** Octets the process received as the message. */
  readonly delivered: number;
  /** Median VmHWM over the repetitions, KiB. */
  readonly peakKb: number;
  readonly samplesKb: number[];
}

export async function runRss(env: Environment, sizes: readonly RssSize[], repetitions: number): Promise<RssRow[]> {
  const bucket = `rss-${Date.now()}`;
  await env.s3.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const rows: RssRow[] = [];
  const measure = async (mode: ClientMode, user: string): Promise<{ kb: number; delivered: number }> => {
    const { result } = await runClient(env, {
      mode,
      host: env.dovecot.host,
      port: env.dovecot.tlsPort,
      user,
      password: env.password(user),
      caFile: env.caFile,
      s3Endpoint: env.s3.endpoint,
      bucket,
    });
    return { kb: result.vmHwmKb, delivered: result.octets };
  };
  const baseline: number[] = [];
  const cells = new Map<string, { kb: number[]; delivered: number }>();
  for (let rep = 0; rep < repetitions; rep++) {
    baseline.push((await measure('rss-baseline', sizes[0]!.user)).kb);
    for (const size of sizes) {
      for (const mode of ['rss-discard', 'rss-s3'] as const) {
        const r = await measure(mode, size.user);
        const key = `${mode}:${size.octets}`;
        const cell = cells.get(key) ?? { kb: [], delivered: r.delivered };
        cell.kb.push(r.kb);
        cells.set(key, cell);
        log(`rss ${mode} ${size.octets / 1e6} MB: ${(r.kb / 1024).toFixed(1)} MiB`);
      }
    }
  }
  rows.push({ mode: 'baseline', octets: 0, delivered: 0, peakKb: median(baseline), samplesKb: baseline });
  for (const mode of ['discard', 's3'] as const) {
    for (const size of sizes) {
      const cell = cells.get(`rss-${mode}:${size.octets}`)!;
      rows.push({ mode, octets: size.octets, delivered: cell.delivered, peakKb: median(cell.kb), samplesKb: cell.kb });
    }
  }
  return rows;
}
