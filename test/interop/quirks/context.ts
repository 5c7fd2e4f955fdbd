import type { Aws } from '../bench';
import type { Results } from '../results';
import type { InteropServer, ServerProfile } from '../servers/types';

export interface QuirkContext {
  readonly aws: () => Aws;
  /** The running server (valid inside tests). */
  readonly server: () => InteropServer;
  readonly profile: ServerProfile;
  readonly results: Results;
}
