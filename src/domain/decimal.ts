// Decimal strings → float64. The engine computes in float64 for speed (see engine.ts for the error
// bound); parsing is the only place a decimal string is read, so it is also where bad text stops.

/** Input the engine cannot compute from. Messages name the field and position, never a value. */
export class AggregationInputError extends Error {
  override name = 'AggregationInputError';
}

// PostgreSQL `numeric` text: optional minus, digits, optional fraction. No exponent, no hex, no spaces.
const DECIMAL = /^-?(?:\d+(?:\.\d*)?|\.\d+)$/u;

/**
 * Parses a canonical decimal string to the nearest float64 (`Number` rounds correctly, so the
 * representation error is at most half an ulp: a relative 1.1e-16).
 */
export function parseDecimal(text: string, field: string): number {
  if (typeof text !== 'string' || !DECIMAL.test(text)) {
    throw new AggregationInputError(`${field} is not a decimal string`);
  }
  const value = Number(text);
  if (!Number.isFinite(value)) throw new AggregationInputError(`${field} is out of range`);
  return value;
}

/** As parseDecimal, and the value must be ≥ 0 (or > 0 when `positive`). */
export function parseAmount(text: string, field: string, positive: boolean): number {
  const value = parseDecimal(text, field);
  if (positive ? !(value > 0) : value < 0) {
    throw new AggregationInputError(`${field} must be ${positive ? 'positive' : 'non-negative'}`);
  }
  return value;
}
