/**
 * An {@link EventPublisher} whose adapter is loaded by the first publish: a run that stores
 * nothing publishes nothing and never loads it. The Lambda handler wraps the EventBridge
 * publisher in it, so the EventBridge SDK is a lazy chunk of the bundle.
 */
import type { EventPublisher, PublishResult } from './event-publisher';
import type { MailStoredDetail } from './mail-stored-detail';

export class LazyEventPublisher implements EventPublisher {
  private loading: Promise<EventPublisher> | undefined;

  /** @param load makes the publisher; called once, by the first publish */
  constructor(private readonly load: () => Promise<EventPublisher>) {}

  async publish(details: readonly MailStoredDetail[]): Promise<PublishResult> {
    this.loading ??= this.load();
    return (await this.loading).publish(details);
  }
}
