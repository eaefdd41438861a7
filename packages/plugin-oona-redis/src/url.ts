/**
 * A Redis URL with its credentials masked, safe to print and log:
 * `redis://alice:s3cret@host:6379/0` → `redis://***:***@host:6379/0`. Anything that does not
 * parse as a URL is replaced entirely.
 */
export function maskRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username !== '') parsed.username = '***';
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '[unparseable Redis URL]';
  }
}
