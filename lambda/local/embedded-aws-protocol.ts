/**
 * What the parent (embedded-aws.ts) and the child process (embedded-aws-server.ts) tell
 * each other over the fork IPC channel. Kept in its own module so that importing the
 * types never loads the server.
 */

/** Which servers the child starts; a server whose entry is absent is not started. */
export interface EmbeddedAwsServerConfig {
  /** s3rver keeps its buckets and objects in this directory. */
  s3?: { directory: string };
  /** dynalite persists its LevelDB store in `path`; in memory when `path` is absent. */
  dynamodb?: { path?: string };
}

/** Loopback address both servers bind to: never reachable from other machines. */
export const LOOPBACK_HOST = '127.0.0.1';

export type ChildMessage =
  | { type: 'ready'; s3Port: number | null; dynamoPort: number | null }
  | { type: 'failed'; service: 's3rver' | 'dynalite'; message: string };

export type ParentMessage = { type: 'stop' };

export function isChildMessage(value: unknown): value is ChildMessage {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'ready' || type === 'failed';
}

export function isParentMessage(value: unknown): value is ParentMessage {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'stop';
}
