import { describe, expect, it } from 'vitest';
import { schedulePeriod } from '../../lib/schedule-period';

describe('schedulePeriod', () => {
  it.each([
    ['rate(1 minute)', 60],
    ['rate(5 minutes)', 300],
    ['rate(1 hour)', 3600],
    ['rate(2 hours)', 7200],
    ['rate(1 day)', 86_400],
  ])('%s lasts %i seconds', (expression, seconds) => {
    expect(schedulePeriod(expression)?.toSeconds()).toBe(seconds);
  });

  it('has no fixed period for cron and at expressions', () => {
    expect(schedulePeriod('cron(0/15 * * * ? *)')).toBeUndefined();
    expect(schedulePeriod('at(2030-01-01T00:00:00)')).toBeUndefined();
  });
});
