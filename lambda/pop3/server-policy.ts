import type { Capabilities } from './capabilities';

/**
 * What a server says about its own policy in CAPA (RFC 2449 sections 6.5 and 6.7): how
 * long it keeps mail a client has read, and how often it accepts logins.
 */
export interface ServerPolicy {
  /**
   * EXPIRE: days a message stays on the server once a client read it; `'never'`; undefined
   * when not announced. 0: the client may not leave mail on the server, read messages are
   * removed when the session ends with QUIT (GNU mailutils counts TOP as reading too).
   */
  readonly expireDays: number | 'never' | undefined;
  /** LOGIN-DELAY: seconds the server wants between two logins; undefined when not announced. */
  readonly loginDelaySeconds: number | undefined;
}

/**
 * The policy that applies to this session. RFC 2449 lets CAPA change after login, and a
 * value announced before login with the `USER` tag is only the server's general one: CAPA
 * after login gives the user's own, so it wins. A server that repeats nothing after login
 * (or refuses CAPA there) keeps what it said before: the safe reading, as that may only
 * make the worker more careful than needed.
 */
export function serverPolicy(beforeLogin: Capabilities | undefined, afterLogin: Capabilities | undefined): ServerPolicy {
  return {
    expireDays: afterLogin?.expire ?? beforeLogin?.expire,
    loginDelaySeconds: afterLogin?.loginDelaySeconds ?? beforeLogin?.loginDelaySeconds,
  };
}
