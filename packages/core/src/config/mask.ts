/** What a masked secret prints as. */
export const MASK = '***';

/**
 * Masks a secret value for display. URLs keep their scheme, host, port and path, and lose
 * only their credentials (`redis://***:***@cache:6379/0`), so that an operator can still see
 * where a service points; anything else becomes `***`.
 */
export function maskValue(value: unknown): unknown {
  if (typeof value !== 'string') return value === undefined || value === null ? value : MASK;
  if (value.length === 0) return value;
  const url = parseUrl(value);
  if (url !== undefined && url.host !== '') {
    if (url.username === '' && url.password === '') return value;
    if (url.username !== '') url.username = MASK;
    if (url.password !== '') url.password = MASK;
    return url.toString().replaceAll('%2A', '*');
  }
  return MASK;
}

function parseUrl(text: string): URL | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return undefined;
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/**
 * Replaces every occurrence of each secret in `text` with `***`. Used by the kernel logger so
 * that a secret that slips into a message is still not written out.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue; // too short to redact without mangling ordinary text
    out = out.split(secret).join(MASK);
  }
  return out;
}
