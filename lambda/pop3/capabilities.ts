/**
 * Capabilities from CAPA (RFC 2449). Parsed from untrusted lines: names are upper-cased,
 * unknown capabilities are kept in `lines` but otherwise ignored.
 */
export interface Capabilities {
  /** The raw capability lines (latin1), as the server sent them. */
  readonly lines: readonly string[];
  readonly top: boolean;
  readonly uidl: boolean;
  readonly user: boolean;
  readonly pipelining: boolean;
  readonly stls: boolean;
  readonly respCodes: boolean;
  /**
   * AUTH-RESP-CODE (RFC 3206): every login failure caused by the credentials carries
   * `[AUTH]`, so an -ERR to a login command without it is some other (passing) trouble.
   */
  readonly authRespCode: boolean;
  /** SASL mechanisms, upper-cased. */
  readonly sasl: readonly string[];
  /** LOGIN-DELAY in seconds, when announced. */
  readonly loginDelaySeconds: number | undefined;
  /** `LOGIN-DELAY <n> USER` (before login): the value may differ per user; CAPA after login tells. */
  readonly loginDelayPerUser: boolean;
  /** EXPIRE in days; `'never'` for EXPIRE NEVER; undefined when not announced. */
  readonly expire: number | 'never' | undefined;
  /** `EXPIRE <n> USER` (before login): the value may differ per user; CAPA after login tells. */
  readonly expirePerUser: boolean;
  readonly implementation: string | undefined;
}

/** What we assume when CAPA is not supported (RFC 1939 only): USER exists, nothing else known. */
export const NO_CAPABILITIES: Capabilities = {
  lines: [],
  top: false,
  uidl: false,
  user: true,
  pipelining: false,
  stls: false,
  respCodes: false,
  authRespCode: false,
  sasl: [],
  loginDelaySeconds: undefined,
  loginDelayPerUser: false,
  expire: undefined,
  expirePerUser: false,
  implementation: undefined,
};

/**
 * GNU mailutils writes EXPIRE without the space: `EXPIRE0`, `EXPIRE30`, `EXPIRENEVER`.
 * Split into the RFC 2449 form, so both spellings read the same.
 */
const GLUED_EXPIRE = /^EXPIRE(\d+|NEVER)$/i;

export function parseCapabilities(lines: readonly Buffer[]): Capabilities {
  const raw = lines.map((l) => l.toString('latin1'));
  const names = new Map<string, string[]>();
  for (const line of raw) {
    const words = line.trim().split(/\s+/).filter(Boolean);
    const glued = GLUED_EXPIRE.exec(words[0] ?? '');
    const [name, ...args] = glued ? ['EXPIRE', glued[1]!, ...words.slice(1)] : words;
    if (!name) continue;
    const key = name.toUpperCase();
    const known = names.get(key);
    // A repeated capability: SASL lines add mechanisms (some servers list them one per
    // line); for any other the first line wins, as a later one cannot be told more right.
    if (known === undefined) names.set(key, args);
    else if (key === 'SASL') known.push(...args);
  }
  const loginDelay = names.get('LOGIN-DELAY')?.[0];
  const expireArg = names.get('EXPIRE')?.[0];
  const expire = expireArg?.toUpperCase() === 'NEVER' ? ('never' as const) : expireArg !== undefined && /^\d+$/.test(expireArg) ? Number(expireArg) : undefined;
  const perUser = (key: string): boolean => names.get(key)?.[1]?.toUpperCase() === 'USER';
  const implementation = raw.find((l) => /^IMPLEMENTATION(\s|$)/i.test(l.trim()));
  return {
    lines: raw,
    top: names.has('TOP'),
    uidl: names.has('UIDL'),
    user: names.has('USER'),
    pipelining: names.has('PIPELINING'),
    stls: names.has('STLS'),
    respCodes: names.has('RESP-CODES'),
    authRespCode: names.has('AUTH-RESP-CODE'),
    sasl: [...new Set((names.get('SASL') ?? []).map((m) => m.toUpperCase()))],
    loginDelaySeconds: loginDelay !== undefined && /^\d+$/.test(loginDelay) ? Number(loginDelay) : undefined,
    loginDelayPerUser: perUser('LOGIN-DELAY'),
    expire,
    expirePerUser: perUser('EXPIRE'),
    implementation: implementation?.trim().slice('IMPLEMENTATION'.length).trim() || undefined,
  };
}
