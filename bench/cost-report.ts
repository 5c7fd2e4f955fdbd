import type { FleetSimRecord } from './fleet-sim';

export function costReport(record: FleetSimRecord): string {
  return `# Cost\n\n${JSON.stringify(record)}\n`;
}
