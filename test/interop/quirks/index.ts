/** Per-server quirk tests, registered inside the server's describe block by the matrix. */
import type { ServerName } from '../servers/types';
import type { QuirkContext } from './context';
import { courierQuirks } from './courier';
import { cyrusQuirks } from './cyrus';
import { dovecotQuirks } from './dovecot';
import { mailutilsQuirks } from './mailutils';
import { popa3dQuirks } from './popa3d';

export type { QuirkContext };

export const QUIRK_SUITES: Readonly<Record<ServerName, (ctx: QuirkContext) => void>> = {
  dovecot: dovecotQuirks,
  mailutils: mailutilsQuirks,
  popa3d: popa3dQuirks,
  courier: courierQuirks,
  cyrus: cyrusQuirks,
};
