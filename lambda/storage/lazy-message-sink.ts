/**
 * A {@link MessageSink} whose adapter is loaded by the first store or read: a run that finds
 * nothing new never loads it. The Lambda handler wraps the S3 sink in it, so the S3 SDK is a
 * lazy chunk of the bundle that a cold start does not parse.
 */
import type { MessageSink, StoreMessageInput, StoredMessage } from './message-sink';
import { objectKeyFor } from './object-key';

export class LazyMessageSink implements MessageSink {
  private loading: Promise<MessageSink> | undefined;

  /**
   * @param prefix the key prefix the loaded sink stores under (keys are known before it loads)
   * @param load makes the sink; called once, by the first store or read
   */
  constructor(
    private readonly prefix: string,
    private readonly load: () => Promise<MessageSink>,
  ) {}

  objectKey(mailboxId: string, identity: string): string {
    return objectKeyFor(this.prefix, mailboxId, identity);
  }

  async store(input: StoreMessageInput): Promise<StoredMessage> {
    return (await this.sink()).store(input);
  }

  async readHeaderBlock(key: string): Promise<Buffer | undefined> {
    return (await this.sink()).readHeaderBlock(key);
  }

  private sink(): Promise<MessageSink> {
    this.loading ??= this.load();
    return this.loading;
  }
}
