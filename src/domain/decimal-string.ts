// Exact arithmetic on decimal strings (money as it crosses layers): scaled bigints, never a float.
// Connectors use it to build amounts; the engine reads the results with decimalToNumber (decimal.ts).
import type { DecimalString } from './types.js';

const DECIMAL = /^([+-])?(\d+)(?:\.(\d+))?$/u;

interface Scaled {
  readonly units: bigint;
  readonly scale: number;
}

function toScaled(value: string): Scaled {
  const m = DECIMAL.exec(value.trim());
  if (m === null) throw new TypeError('not a decimal number');
  const fraction = m[3] ?? '';
  const units = BigInt(`${m[2] ?? '0'}${fraction}`);
  return { units: m[1] === '-' ? -units : units, scale: fraction.length };
}

function fromScaled({ units, scale }: Scaled): DecimalString {
  const negative = units < 0n;
  let digits = (negative ? -units : units).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    const whole = digits.slice(0, digits.length - scale);
    const fraction = digits.slice(digits.length - scale).replace(/0+$/u, '');
    digits = fraction === '' ? whole : `${whole}.${fraction}`;
  }
  return negative && digits !== '0' ? `-${digits}` : digits;
}

/** Plain decimal text: optional sign, digits, optional fraction (no exponent). Surrounding spaces allowed. */
export function isDecimal(value: unknown): value is string {
  return typeof value === 'string' && DECIMAL.test(value.trim());
}

/** Canonical form: no leading "+", no trailing fraction zeros, "-0" → "0". */
export function normalizeDecimal(value: string): DecimalString {
  return fromScaled(toScaled(value));
}

export function multiplyDecimal(a: string, b: string): DecimalString {
  const x = toScaled(a);
  const y = toScaled(b);
  return fromScaled({ units: x.units * y.units, scale: x.scale + y.scale });
}

export function addDecimal(a: string, b: string): DecimalString {
  const x = toScaled(a);
  const y = toScaled(b);
  const scale = Math.max(x.scale, y.scale);
  return fromScaled({ units: x.units * 10n ** BigInt(scale - x.scale) + y.units * 10n ** BigInt(scale - y.scale), scale });
}

export function negateDecimal(value: string): DecimalString {
  const x = toScaled(value);
  return fromScaled({ units: -x.units, scale: x.scale });
}

export function absDecimal(value: string): DecimalString {
  return normalizeDecimal(value.trim().replace(/^[+-]/u, ''));
}

export function isNegativeDecimal(value: string): boolean {
  return toScaled(value).units < 0n;
}

export function isZeroDecimal(value: string): boolean {
  return toScaled(value).units === 0n;
}

export function compareDecimal(a: string, b: string): number {
  const d = toScaled(addDecimal(a, negateDecimal(b))).units;
  return d === 0n ? 0 : d < 0n ? -1 : 1;
}

/**
 * A finite double as plain decimal text ("1e-7" → "0.0000001", -0 → "0"). The shortest
 * round-trip form is kept digit for digit: a number parsed from a venue's decimal text gives that
 * text back (canonical form); only exponent notation is expanded.
 */
export function numberToDecimal(value: number): DecimalString {
  if (!Number.isFinite(value)) throw new RangeError('not a finite number');
  const text = String(value);
  const match = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/u.exec(text);
  if (match === null) return text === '-0' ? '0' : text;
  const [, sign = '', lead = '', rest = '', exponentText = '0'] = match;
  const digits = lead + rest;
  const point = 1 + Number(exponentText); // position of the decimal point within `digits`
  if (point <= 0) return `${sign}0.${'0'.repeat(-point)}${digits}`;
  if (point >= digits.length) return `${sign}${digits}${'0'.repeat(point - digits.length)}`;
  return `${sign}${digits.slice(0, point)}.${digits.slice(point)}`;
}
