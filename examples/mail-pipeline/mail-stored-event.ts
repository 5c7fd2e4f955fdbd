/**
 * The `Mail Stored` event as EventBridge delivers it to a Lambda target, and the checks the
 * handler makes before trusting it. Anyone allowed `events:PutEvents` on the bus can send
 * an event with source `mailfetch`, so every field the handler builds keys or requests from
 * is checked; the S3 read itself is bounded by the function's IAM policy (one mailbox).
 */
import {
  MAIL_STORED_DETAIL_TYPE,
  MAIL_STORED_DETAIL_VERSION,
  MAIL_STORED_SOURCE,
  type MailStoredDetail,
} from '../../lambda/events/mail-stored-detail';
import { MailPipelineError, MailPipelineErrorCode } from './errors';

export type { MailStoredDetail } from '../../lambda/events/mail-stored-detail';

/** An EventBridge event (the envelope every target gets) carrying a `Mail Stored` detail. */
export interface MailStoredEvent {
  readonly version: string;
  readonly id: string;
  readonly 'detail-type': string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: MailStoredDetail;
}

/** A mailbox id as mailfetch allows it (lambda/config): a safe single key segment. */
const MAILBOX_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const SHA256_HEX_PATTERN = /^[0-9a-f]{64}$/;
/** S3's limit on a key, in UTF-8 octets. */
const MAX_S3_KEY_OCTETS = 1024;

/**
 * The event's detail, once it is a version-1 `Mail Stored` detail whose fields can be used.
 * @throws MailPipelineError UNSUPPORTED_EVENT, UNSUPPORTED_VERSION or INVALID_DETAIL
 */
export function readMailStoredEvent(event: MailStoredEvent): MailStoredDetail {
  if (event?.source !== MAIL_STORED_SOURCE || event['detail-type'] !== MAIL_STORED_DETAIL_TYPE) {
    throw new MailPipelineError(
      MailPipelineErrorCode.UNSUPPORTED_EVENT,
      `expected a "${MAIL_STORED_DETAIL_TYPE}" event from "${MAIL_STORED_SOURCE}", got ${JSON.stringify(event?.['detail-type'])} from ${JSON.stringify(event?.source)}`,
    );
  }
  const detail = event.detail as Partial<MailStoredDetail> | undefined;
  if (detail?.version !== MAIL_STORED_DETAIL_VERSION) {
    throw new MailPipelineError(
      MailPipelineErrorCode.UNSUPPORTED_VERSION,
      `Mail Stored detail version ${JSON.stringify(detail?.version)} is not supported (this handler reads version "${MAIL_STORED_DETAIL_VERSION}"); update the handler`,
    );
  }
  const problems = detailProblems(detail);
  if (problems.length > 0) {
    throw new MailPipelineError(MailPipelineErrorCode.INVALID_DETAIL, `invalid Mail Stored detail: ${problems.join('; ')}`);
  }
  return detail as MailStoredDetail;
}

function detailProblems(detail: Partial<MailStoredDetail>): string[] {
  const problems: string[] = [];
  const { mailbox, eventId, bucket, key, size, sha256 } = detail;
  if (typeof mailbox !== 'string' || !MAILBOX_ID_PATTERN.test(mailbox) || mailbox === '.' || mailbox === '..') problems.push('mailbox is not a mailbox id');
  if (typeof eventId !== 'string' || !SHA256_HEX_PATTERN.test(eventId)) problems.push('eventId is not 64 lowercase hex digits');
  if (typeof sha256 !== 'string' || !SHA256_HEX_PATTERN.test(sha256)) problems.push('sha256 is not 64 lowercase hex digits');
  if (typeof bucket !== 'string' || bucket === '') problems.push('bucket is missing');
  if (typeof key !== 'string' || key === '' || Buffer.byteLength(key) > MAX_S3_KEY_OCTETS) problems.push('key is missing or too long');
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) problems.push('size is not a whole number of octets');
  return problems;
}
