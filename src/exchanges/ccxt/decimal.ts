// ccxt hands amounts over as JS numbers parsed from the venue's decimal text. The shortest
// round-trip form of such a number is that text again; only exponent notation needs expanding.

/** Formats a finite number as a plain decimal string ("1e-7" → "0.0000001"). */
export function toDecimalString(value: number): string {
  if (!Number.isFinite(value)) throw new RangeError('not a finite number');
  const text = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/u.exec(text);
  if (match === null) return text === '-0' ? '0' : text;
  const [, sign = '', lead = '', rest = '', exponentText = '0'] = match;
  const digits = lead + rest;
  const exponent = Number(exponentText);
  const point = 1 + exponent; // position of the decimal point within `digits`
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}

/** Exact sum of two non-negative decimal strings (no float rounding). */
export function addDecimals(a: string, b: string): string {
  const scale = Math.max(a.split('.')[1]?.length ?? 0, b.split('.')[1]?.length ?? 0);
  const units = (value: string): bigint => {
    const [whole = '0', frac = ''] = value.split('.');
    return BigInt(whole + frac.padEnd(scale, '0'));
  };
  const sum = (units(a) + units(b)).toString().padStart(scale + 1, '0');
  if (scale === 0) return sum;
  const text = `${sum.slice(0, -scale)}.${sum.slice(-scale)}`.replace(/0+$/u, '');
  return text.endsWith('.') ? text.slice(0, -1) : text;
}
