import type { Logger } from '../observability/logger';
import type { RunSummary } from '../sync/run-summary';
import { runOutcome } from './health';
import type { MailboxRegistry, RunAction } from './mailbox-registry';

/**
 * Writes a run's health (one UpdateItem in DynamoDB). Health is bookkeeping: a failed
 * write is logged and never fails, and so never repeats, the run it describes.
 */
export async function recordHealth(registry: MailboxRegistry, summary: RunSummary, action: RunAction, log: Logger): Promise<void> {
  try {
    const written = await registry.recordRun(summary.mailbox, runOutcome(summary, action));
    if (!written) log.warn('mailbox was removed from the registry during the run; health not written');
  } catch (err) {
    log.warn('health not written to the registry', { error: err });
  }
}
