// Event attributes and annotations of the risk engine are wire-visible and were written by the
// reference with Python's `%.Nf`; these helpers give the same text.

/**
 * `x` with `digits` decimals as Python's `'%.<digits>f' % x` writes it: like `toFixed`, except
 * that an exact tie rounds to the even digit (`0.125` → `0.12`, where `toFixed` gives `0.13`) and
 * non-finite values are `nan`, `inf`, `-inf`.
 */
export function pyFixed(x: number, digits: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  const magnitude = Math.abs(x);
  let text = magnitude.toFixed(digits);
  // A double is an exact tie at `digits` decimals iff x·2^(digits+1) is an odd integer (the 5^digits
  // part of 10^digits cannot cancel a power of two); toFixed then rounded up, Python to even.
  const scaled = magnitude * 2 ** (digits + 1);
  if (Number.isSafeInteger(scaled) && scaled % 2 === 1) {
    const last = text.charCodeAt(text.length - 1) - 48;
    if (last % 2 === 1) text = `${text.slice(0, -1)}${last - 1}`;
  }
  return x < 0 || Object.is(x, -0) ? `-${text}` : text;
}

/** A float as Python's `str()` writes it: shortest round-trip digits, integers with `.0` (`1.0`, `0.7`). */
export function pyFloatText(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  return Number.isInteger(x) && Math.abs(x) < 1e16 ? x.toFixed(1) : String(x);
}
