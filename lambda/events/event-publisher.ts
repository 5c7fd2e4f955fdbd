/**
 * The port through which stored messages are announced to pipelines. One adapter per
 * destination (eventbridge-publisher.ts); the sync keeps what was not published in its
 * outbox and offers it again, so an adapter reports, it never retries forever.
 */
import type { MailStoredDetail } from './mail-stored-detail';

export interface PublishFailure {
  readonly eventId: string;
  /** Machine-readable: the service's error code, or the error's name. */
  readonly code: string;
  readonly message: string;
}

export interface PublishResult {
  /** Event ids the destination accepted. */
  readonly published: readonly string[];
  /** The others, each with why; they stay in the outbox. */
  readonly failed: readonly PublishFailure[];
}

export interface EventPublisher {
  /** Publishes every detail (in as few requests as the destination allows); never throws for a refused event. */
  publish(details: readonly MailStoredDetail[]): Promise<PublishResult>;
}
