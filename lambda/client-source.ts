/**
 * An AWS SDK client, or how to make it when a run first needs it. The Lambda handler passes
 * the latter for the services only some runs use (S3 for a run that stores, EventBridge for
 * one that publishes, SQS for one that defers), so a container loads their code, a lazy
 * chunk of the bundle, only then; tests and the command pass clients.
 */
export type ClientSource<C extends object> = C | (() => Promise<C>);

/** The client of a source, made by this call when it is made on first use. */
export async function clientOf<C extends object>(source: ClientSource<C>): Promise<C> {
  return typeof source === 'function' ? source() : source;
}

/**
 * `make()` on the first call; later calls share its promise, so a container makes one
 * client however many runs ask at once. A failure is not kept: the next call tries again.
 */
export function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    if (made === undefined) {
      const making = make();
      made = making;
      making.catch(() => {
        if (made === making) made = undefined;
      });
    }
    return made;
  };
}
