// Decimal strings → float64. The engine computes in float64 for speed (see engine.ts for the error
// bound); parsing is the only place a decimal string is read, so it is also where bad text stops.


const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const TWO_53 = 2 ** 53;

/**
 * The float64 nearest to a PostgreSQL `numeric` text (optional minus, digits, optional fraction;
 * no exponent, hex or spaces), or NaN when the text is not one. Exact like `Number` (½ ulp):
 * when the digits fit in 2^53 and there are at most 22 decimals, digits / 10^k is one correctly
 * rounded division of two exact doubles (Clinger's fast path); otherwise `Number` does it.
 */
export function decimalToNumber(text: string): number {
  const n = text.length;
  let i = 0;
  let negative = false;
  if (n > 0 && text.charCodeAt(0) === 45) {
    negative = true;
    i = 1;
  }
  let digits = 0;
  let mantissa = 0;
  let point = -1;
  for (; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
    } else if (c === 46 && point < 0) {
      point = i;
    } else {
      return NaN;
    }
  }
  if (digits === 0) return NaN;
  const decimals = point < 0 ? 0 : n - point - 1;
  if (mantissa > TWO_53 || decimals > 22) return Number(text);
  const value = mantissa / POW10[decimals]!;
  return negative ? -value : value;
}
