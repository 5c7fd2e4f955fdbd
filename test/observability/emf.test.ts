import { describe, expect, it } from 'vitest';
import { parseDetailedMetricsMailboxes, formatDetailedMetricsMailboxes } from '../../lambda/observability/detailed-metrics-mailboxes';
import { fleetRunMetrics, MAX_EMF_VALUES, runMetrics } from '../../lambda/observability/emf';
import { METRIC } from '../../lambda/observability/metric-names';
import { emptySummary, type RunSummary } from '../../lambda/sync/run-summary';

interface Directive {
  readonly Namespace: string;
  readonly Dimensions: string[][];
  readonly Metrics: { Name: string; Unit: string }[];
}
type Doc = Record<string, unknown> & { _aws: { Timestamp: number; CloudWatchMetrics: Directive[] } };

const NOW = 1_700_000_000_000;

function summary(fields: Partial<RunSummary> = {}): RunSummary {
  return { ...emptySummary('support'), fetched: 3, bytes: 4096, backlog: 2, durationMs: 812, ...fields };
}

function docs(s: RunSummary, detailed?: boolean): Doc[] {
  return runMetrics(s, 'Mailfetch', NOW, detailed) as Doc[];
}

/** Every (metric name, dimension set) pair the documents publish: what CloudWatch bills. */
function published(list: Doc[]): string[] {
  return list.flatMap((d) =>
    d._aws.CloudWatchMetrics.flatMap((m) => m.Dimensions.flatMap((dims) => m.Metrics.map((x) => `${x.Name}{${dims.join(',')}}`))),
  );
}

describe('runMetrics (embedded metric format)', () => {
  it('publishes fleet metrics without dimensions; the mailbox id is only a log field', () => {
    const [main, ...rest] = docs(summary());
    expect(rest).toEqual([]);
    expect(main!._aws).toEqual({
      Timestamp: NOW,
      CloudWatchMetrics: [{ Namespace: 'Mailfetch', Dimensions: [[]], Metrics: expect.any(Array) }],
    });
    expect(main).toMatchObject({ Mailbox: 'support', MessagesFetched: 3, BytesFetched: 4096, Backlog: 2, RunDuration: 812, RunSucceeded: 1, RunFailed: 0, AuthFailures: 0 });
    // Every declared metric has its value in the document (EMF drops the document otherwise).
    for (const { Name } of main!._aws.CloudWatchMetrics[0]!.Metrics) expect(typeof main![Name]).toBe('number');
  });

  it('adds the Mailbox dimension only for a detailed mailbox, on top of the fleet metrics', () => {
    const [main] = docs(summary(), true);
    expect(main!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([[], ['Mailbox']]);
  });

  it('counts errors in all and by code; by mailbox and code only when detailed', () => {
    const failed = summary({
      status: 'error',
      errors: [
        { code: 'AUTH_FAILED', message: 'no', retryable: false },
        { code: 'TIMEOUT', message: 'slow', retryable: true },
        { code: 'TIMEOUT', message: 'slow', retryable: true },
      ],
    });
    const [main, ...errors] = docs(failed);
    expect(main).toMatchObject({ RunSucceeded: 0, RunFailed: 1, AuthFailures: 1 });
    expect(errors.map((d) => [d.ErrorCode, d.Errors])).toEqual([
      ['AUTH_FAILED', 1],
      ['TIMEOUT', 2],
    ]);
    expect(errors[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([[], ['ErrorCode']]);
    const detailed = docs(failed, true);
    expect(detailed[1]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([[], ['ErrorCode'], ['Mailbox', 'ErrorCode']]);
  });

  it('a busy run is neither a success nor a failure', () => {
    const [main] = docs(summary({ status: 'busy' }));
    expect(main).not.toHaveProperty(METRIC.RUN_SUCCEEDED);
    expect(main).not.toHaveProperty(METRIC.RUN_FAILED);
  });

  it('publishes the same metrics for 1,000 mailboxes as for one (flat cost), unless detailed', () => {
    const fleet = new Set<string>();
    for (let i = 0; i < 1_000; i++) for (const m of published(docs(summary({ mailbox: `mbx-${i}` })))) fleet.add(m);
    expect([...fleet].sort()).toEqual(published(docs(summary())).sort());
    expect(fleet.size).toBe(14);
    // A detailed mailbox's values are published a second time, under its own dimension.
    expect(published(docs(summary(), true))).toHaveLength(2 * fleet.size);
  });
});

describe('detailed metrics mailboxes (environment variable)', () => {
  it('round-trips a list of ids and drops entries that are not mailbox ids', () => {
    expect([...parseDetailedMetricsMailboxes(formatDetailedMetricsMailboxes(['support', 'm365.invoices']))]).toEqual(['support', 'm365.invoices']);
    expect([...parseDetailedMetricsMailboxes(' a , ,b c,..,d')]).toEqual(['a', 'd']);
    expect(parseDetailedMetricsMailboxes(undefined).size).toBe(0);
    expect(parseDetailedMetricsMailboxes('').size).toBe(0);
  });
});

describe('fleetRunMetrics (one document for several runs)', () => {
  const runs: RunSummary[] = [
    summary({ mailbox: 'a' }),
    summary({ mailbox: 'b', fetched: 0, bytes: 0, status: 'error', errors: [{ code: 'AUTH_FAILED', message: 'no', retryable: false }] }),
    summary({ mailbox: 'c', status: 'busy' }),
    summary({ mailbox: 'd', errors: [{ code: 'TIMEOUT', message: 't', retryable: true }, { code: 'TIMEOUT', message: 't', retryable: true }] }),
  ];

  it('gives each metric the array of the runs\' values: the same sums and samples as per-run documents, fleet dimension only', () => {
    const [main, ...errors] = fleetRunMetrics(runs, 'Mailfetch', NOW) as Doc[];
    expect(main!._aws.CloudWatchMetrics).toEqual([{ Namespace: 'Mailfetch', Dimensions: [[]], Metrics: expect.any(Array) }]);
    const perRun = runs.flatMap((r) => docs(r));
    for (const { Name } of main!._aws.CloudWatchMetrics[0]!.Metrics) {
      const values = main![Name] as number[];
      const expected = perRun.filter((d) => d._aws.CloudWatchMetrics[0]!.Dimensions.length === 1 && typeof d[Name] === 'number').map((d) => d[Name] as number);
      expect(values, Name).toEqual(expected);
    }
    // A busy run is neither success nor failure: three samples, one failed.
    expect(main).toMatchObject({ RunFailed: [0, 1, 0], RunSucceeded: [1, 0, 1], AuthFailures: [0, 1, 0, 0] });
    expect(errors).toEqual([
      expect.objectContaining({ ErrorCode: 'AUTH_FAILED', Errors: [1] }),
      expect.objectContaining({ ErrorCode: 'TIMEOUT', Errors: [2] }),
    ]);
    expect(published(errors)).toEqual(['Errors{}', 'Errors{ErrorCode}', 'Errors{}', 'Errors{ErrorCode}']);
  });

  it('splits after MAX_EMF_VALUES runs (EMF\'s limit per array) and writes nothing for no run', () => {
    const many = Array.from({ length: MAX_EMF_VALUES + 1 }, (_, i) => summary({ mailbox: `m${i}` }));
    const out = fleetRunMetrics(many, 'Mailfetch', NOW) as Doc[];
    expect(out.map((d) => (d.MessagesFetched as number[]).length)).toEqual([MAX_EMF_VALUES, 1]);
    expect(fleetRunMetrics([], 'Mailfetch', NOW)).toEqual([]);
  });
});
