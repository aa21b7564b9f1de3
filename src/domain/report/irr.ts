// Money-weighted return: the internal rate of return of dated flows (XIRR style). Pure.

export interface DatedFlow {
  /** Time in years from the first flow (fractions allowed). */
  readonly years: number;
  /** Investor's view: money put in is negative, money taken out (and the final value) positive. */
  readonly amount: number;
}

const npv = (flows: readonly DatedFlow[], rate: number): number => {
  let v = 0;
  for (const f of flows) v += f.amount / (1 + rate) ** f.years;
  return v;
};

/**
 * The annual rate r with Σ amountᵢ / (1 + r)^yearsᵢ = 0, by bisection on (−1, 1e6] (the NPV of an
 * investment — outflows first, inflows later — falls as r rises). Null when the flows do not
 * change sign or no root lies in the bracket.
 */
export function internalRateOfReturn(flows: readonly DatedFlow[]): number | null {
  if (!flows.some((f) => f.amount > 0) || !flows.some((f) => f.amount < 0)) return null;
  let lo = -1 + 1e-12;
  let hi = 1e6;
  let fLo = npv(flows, lo);
  const fHi = npv(flows, hi);
  if (!Number.isFinite(fLo)) fLo = Math.sign(flows.find((f) => f.years === Math.max(...flows.map((x) => x.years)))!.amount) * Infinity;
  if (fLo === 0) return lo;
  if (Math.sign(fLo) === Math.sign(fHi)) return null;
  for (let k = 0; k < 400 && hi - lo > 1e-15 * Math.max(1, Math.abs(lo)); k++) {
    const mid = (lo + hi) / 2;
    const fMid = npv(flows, mid);
    if (fMid === 0) return mid;
    if (Math.sign(fMid) === Math.sign(fLo)) { lo = mid; fLo = fMid; } else hi = mid;
  }
  return (lo + hi) / 2;
}
