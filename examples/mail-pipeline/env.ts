/** The handler's environment variables: the construct sets them, the handler reads them (handler.ts). */
export const PIPELINE_ENV = {
  /** The bucket the output goes to. Absent: the bucket the event names (the message's own). */
  OUTPUT_BUCKET: 'OUTPUT_BUCKET',
  /** Key prefix of the output, ending in `/`. Absent: `parsed/`. */
  OUTPUT_PREFIX: 'OUTPUT_PREFIX',
} as const;
