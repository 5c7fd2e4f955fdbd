/**
 * The pipeline's Lambda handler: for each `Mail Stored` event, reads the stored message,
 * checks it is the one the event describes (SHA-256), parses it (postal-mime) and writes
 * its attachments, then `summary.json`, under `<prefix><mailbox>/<eventId>/`.
 *
 * Idempotent: every key follows from the event and every byte from the message, so a
 * redelivered event rewrites the same objects with the same bytes. The summary goes last,
 * so its presence means the message's output is complete.
 *
 * The whole message is held in memory (at most MAX_MESSAGE_OCTETS): postal-mime parses a
 * complete message, and the attachments it returns are in memory anyway.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { PIPELINE_ENV } from './env';
import { MailPipelineError, MailPipelineErrorCode } from './errors';
import { readMailStoredEvent, type MailStoredDetail, type MailStoredEvent } from './mail-stored-event';
import { parseMessage, type OutputObject } from './message-summary';
import { DEFAULT_OUTPUT_PREFIX, outputFolder, outputPrefixProblems } from './output-layout';

/** Largest message parsed, in octets: mailfetch's default `maxMessageBytes` (50 MiB); the function's memory is sized for it. */
export const MAX_MESSAGE_OCTETS = 50 * 1024 * 1024;
/** Attachment PUTs in flight at once: parallel enough for many small files, gentle on memory. */
const ATTACHMENT_PUTS_IN_FLIGHT = 4;

export interface MailPipelineOptions {
  /** The S3 client for the message and the output. */
  readonly s3: S3Client;
  /**
   * The bucket the output goes to.
   * @default the bucket the event names
   */
  readonly outputBucket?: string;
  /**
   * Key prefix of the output, ending in `/`.
   * @default 'parsed/'
   */
  readonly prefix?: string;
  /** One JSON line per message. @default console.log */
  readonly log?: (line: string) => void;
}

/** What one invocation wrote. */
export interface MailPipelineResult {
  readonly eventId: string;
  readonly bucket: string;
  readonly summaryKey: string;
  readonly attachmentKeys: string[];
}

export type MailPipelineHandler = (event: MailStoredEvent) => Promise<MailPipelineResult>;

/** @throws MailPipelineError INVALID_CONFIG for a bad prefix */
export function createHandler(options: MailPipelineOptions): MailPipelineHandler {
  const prefix = options.prefix ?? DEFAULT_OUTPUT_PREFIX;
  const problems = outputPrefixProblems(prefix);
  if (problems.length > 0) throw new MailPipelineError(MailPipelineErrorCode.INVALID_CONFIG, problems.join('; '));
  const log = options.log ?? ((line: string) => console.log(line));
  return async (event) => {
    const detail = readMailStoredEvent(event);
    const message = await readMessage(options.s3, detail);
    const parsed = await parseMessage(message, detail, outputFolder(prefix, detail.mailbox, detail.eventId));
    const bucket = options.outputBucket ?? detail.bucket;
    await putAll(options.s3, bucket, parsed.attachments);
    // Last: a summary is only ever there once every attachment it lists is.
    await put(options.s3, bucket, parsed.summaryObject);
    const result = { eventId: detail.eventId, bucket, summaryKey: parsed.summaryObject.key, attachmentKeys: parsed.attachments.map((a) => a.key) };
    log(JSON.stringify({ event: 'parsed', mailbox: detail.mailbox, eventId: detail.eventId, source: detail.key, attachments: result.attachmentKeys.length, summary: result.summaryKey }));
    return result;
  };
}

/**
 * The message's bytes, once they are the ones the event describes.
 * @throws MailPipelineError MESSAGE_TOO_LARGE, STALE_OBJECT (changed or gone) or S3_FAILED
 */
async function readMessage(s3: S3Client, detail: MailStoredDetail): Promise<Buffer> {
  const where = `s3://${detail.bucket}/${detail.key}`;
  if (detail.size > MAX_MESSAGE_OCTETS) throw tooLarge(where, detail.size);
  let bytes: Buffer;
  try {
    const object = await s3.send(new GetObjectCommand({ Bucket: detail.bucket, Key: detail.key }));
    if ((object.ContentLength ?? 0) > MAX_MESSAGE_OCTETS) throw tooLarge(where, object.ContentLength!);
    bytes = Buffer.from(await object.Body!.transformToByteArray());
  } catch (err) {
    if (err instanceof MailPipelineError) throw err;
    if ((err as { name?: string }).name === 'NoSuchKey') {
      throw new MailPipelineError(MailPipelineErrorCode.STALE_OBJECT, `${where} no longer exists (event ${detail.eventId})`, { cause: err });
    }
    throw s3Failed(`reading ${where}`, err);
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== detail.sha256) {
    throw new MailPipelineError(
      MailPipelineErrorCode.STALE_OBJECT,
      `${where} is not the message of event ${detail.eventId}: its SHA-256 is ${sha256}, the event says ${detail.sha256} (the object was overwritten since); nothing written`,
    );
  }
  return bytes;
}

async function putAll(s3: S3Client, bucket: string, objects: readonly OutputObject[]): Promise<void> {
  for (let i = 0; i < objects.length; i += ATTACHMENT_PUTS_IN_FLIGHT) {
    await Promise.all(objects.slice(i, i + ATTACHMENT_PUTS_IN_FLIGHT).map((o) => put(s3, bucket, o)));
  }
}

async function put(s3: S3Client, bucket: string, object: OutputObject): Promise<void> {
  try {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: object.key, Body: object.body, ContentType: object.contentType }));
  } catch (err) {
    throw s3Failed(`writing s3://${bucket}/${object.key}`, err);
  }
}

function tooLarge(where: string, size: number): MailPipelineError {
  return new MailPipelineError(MailPipelineErrorCode.MESSAGE_TOO_LARGE, `${where} has ${size} octets, more than the ${MAX_MESSAGE_OCTETS} this handler parses`);
}

function s3Failed(what: string, err: unknown): MailPipelineError {
  const name = (err as { name?: string }).name ?? 'Error';
  return new MailPipelineError(MailPipelineErrorCode.S3_FAILED, `${what} failed: ${name}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

let fromEnvironment: MailPipelineHandler | undefined;

/** The Lambda entry point: region and credentials from Lambda's environment, output settings from PIPELINE_ENV. */
export const handler: MailPipelineHandler = (event) => {
  fromEnvironment ??= createHandler({
    s3: new S3Client({}),
    ...optional('outputBucket', process.env[PIPELINE_ENV.OUTPUT_BUCKET]),
    ...optional('prefix', process.env[PIPELINE_ENV.OUTPUT_PREFIX]),
  });
  return fromEnvironment(event);
};

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined || value === '' ? {} : { [key]: value }) as { [P in K]?: string };
}
