import { isIP } from 'node:net';
import { readNonEmptyString, type Field } from './field-readers';
import type { Problems } from './problems';

const HOSTNAME_PATTERN = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** A bare host name or IP address: no scheme, no port, no brackets. */
export function readHost(field: Field, problems: Problems): string | undefined {
  const host = readNonEmptyString(field, problems);
  if (host === undefined) return undefined;
  const problem = hostProblem(host);
  if (problem === undefined) return host;
  problems.add(field.path, problem);
  return undefined;
}

function hostProblem(host: string): string | undefined {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(host)) return 'must be a host name or IP address without a scheme (no "pop3s://")';
  if (isIP(host) !== 0) return undefined;
  // `10.0.0.300` matches the host name pattern but is neither a name nor an address.
  if (HOSTNAME_PATTERN.test(host) && !/^[\d.]+$/.test(host)) return undefined;
  const withPort = /^(.*):\d+$/.exec(host);
  if (host.startsWith('[') || (withPort && (isIP(withPort[1]!) === 4 || HOSTNAME_PATTERN.test(withPort[1]!)))) {
    return 'must be a host name or IP address without a port (set "port" instead) or brackets';
  }
  return 'must be a host name or IP address';
}
