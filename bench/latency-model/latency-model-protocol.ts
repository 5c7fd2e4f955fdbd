/**
 * What the bench (start-latency-model.ts) and the latency model's child process
 * (latency-model-server.ts) tell each other over the fork IPC channel (serialization
 * 'advanced', so tallies keep their Infinity). Requests carry an id; the child answers
 * each with the same id.
 */
import type { LatencyModelOptions } from './latency-options';
import type { LatencyTallies } from './latency-tally';

export type ServerConfig = LatencyModelOptions;

export type ParentRequest =
  | { readonly type: 'tallies'; readonly id: number }
  | { readonly type: 'reset-tallies'; readonly id: number }
  | { readonly type: 'clear'; readonly id: number };

export type ParentMessage = ParentRequest | { readonly type: 'stop' };

export type ChildMessage =
  | { readonly type: 'ready'; readonly s3Endpoint: string; readonly dynamoEndpoint: string }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'answer'; readonly id: number; readonly tallies?: LatencyTallies };

export function isChildMessage(value: unknown): value is ChildMessage {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'ready' || type === 'failed' || type === 'answer';
}

export function isParentMessage(value: unknown): value is ParentMessage {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'tallies' || type === 'reset-tallies' || type === 'clear' || type === 'stop';
}
