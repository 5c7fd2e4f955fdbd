/**
 * Commands as they may appear in errors and traces: arguments that carry secrets are
 * replaced by `***`. Every command goes through here before it is shown anywhere.
 */
export function redactCommand(line: string): string {
  const m = /^(\S+)(?:\s+(.*))?$/.exec(line);
  if (!m) return line;
  const verb = m[1]!.toUpperCase();
  const args = m[2];
  if (args === undefined) return verb;
  switch (verb) {
    case 'PASS':
      return 'PASS ***';
    case 'APOP':
      // Keep the user name, hide the digest (it can be brute-forced offline).
      return `APOP ${args.split(/\s+/)[0]} ***`;
    case 'AUTH': {
      const [mech, initial] = args.split(/\s+/);
      return initial === undefined ? `AUTH ${mech}` : `AUTH ${mech} ***`;
    }
    default:
      return `${verb} ${args}`;
  }
}
