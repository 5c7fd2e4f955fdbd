/** Steps and configurations as short, readable lines (the JSON form replays them). */
import type { Fault, SequenceConfig, Step } from './types';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

export function duration(ms: number): string {
  if (ms % HOUR_MS === 0) return `${ms / HOUR_MS}h`;
  if (ms % MINUTE_MS === 0) return `${ms / MINUTE_MS}m`;
  return `${ms / 1_000}s`;
}

export function describeFault(f: Fault): string {
  switch (f.kind) {
    case 'aws':
      return `${f.service} request #${f.nth} fails ${f.when} taking effect`;
    case 'cut':
      return `cut at ${f.verb} #${f.nth}${f.partial !== undefined ? ` after +OK and ${f.partial} octets` : ''}`;
    case 'crash':
      return `crash ${Object.entries(f.point).map(([k, v]) => (k === 'at' ? v : `${k}=${v}`)).join(' ')}`;
    case 'lost-quit-ok':
      return `QUIT #${f.nth} applied, +OK lost`;
  }
}

export function describeStep(s: Step): string {
  switch (s.kind) {
    case 'arrive': {
      const m = s.mail;
      return `arrive #${s.no}: seq=${m.seq} topic=${m.topic} ${m.size} octets ${m.flavor} body=${m.body}${s.uidFrom ? ` uid from ${s.uidFrom}` : ''}`;
    }
    case 'delete':
      return `other client deletes #${s.no}`;
    case 'hide':
      return `other client hides #${s.no}`;
    case 'clock':
      return `clock +${duration(s.advanceMs)}`;
    case 'run':
      return `run (+${duration(s.advanceMs)})${s.faults.length ? `: ${s.faults.map(describeFault).join('; ')}` : ''}`;
  }
}

export function describeConfig(c: SequenceConfig): string {
  const profiles = c.profiles.length ? c.profiles.map((p) => (p === 'gmail' ? `gmail(perSession ${c.perSession})` : p)).join('+') : 'plain';
  return `${profiles}, retention ${c.retention}, pipelining ${c.pipelining ? 'on' : 'off'}, maxMessageBytes ${c.maxMessageBytes}, SDK attempts s3=${c.maxAttempts.s3} dynamodb=${c.maxAttempts.dynamodb}`;
}
