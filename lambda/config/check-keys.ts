import { closestKey } from './closest-key';
import type { JsonObject } from './json-object';
import type { Problems } from './problems';

/** Reports every key of `obj` not in `allowed`, with a "did you mean" for a likely typo. */
export function checkKeys(obj: JsonObject, allowed: readonly string[], path: string, problems: Problems): void {
  for (const key of Object.keys(obj)) {
    if (allowed.includes(key)) continue;
    const suggestion = closestKey(key, allowed);
    problems.add(childPath(path, key), `unknown field${suggestion ? ` (did you mean "${suggestion}"?)` : ''}`);
  }
}

function childPath(path: string, key: string): string {
  // Keys come from the file: show odd ones quoted and bounded so the message stays readable.
  const shown = /^[A-Za-z0-9_$-]{1,64}$/.test(key) ? key : JSON.stringify(key.slice(0, 64));
  return path === '' ? shown : `${path}.${shown}`;
}
