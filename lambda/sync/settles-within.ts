/**
 * Waits for `work` at most `ms` milliseconds: true when it settled in time (resolved or
 * rejected), false when the time ran out first. `work` goes on either way; the timer never
 * outlives the wait.
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))));
  try {
    return await Promise.race([work.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
