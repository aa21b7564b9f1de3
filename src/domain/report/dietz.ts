// Single-period return formulas the engine applies hour by hour, stated once for reference and
// for the worked-example tests. Pure.

export interface TimedFlow {
  /** Share of the period elapsed when the flow happened, in [0, 1]. */
  readonly at: number;
  /** Deposits positive. */
  readonly amount: number;
}

/** Modified Dietz: (E₁ − E₀ − ΣF) / (E₀ + Σ wᵢFᵢ), wᵢ = 1 − atᵢ (the share of the period left). */
export function modifiedDietz(start: number, end: number, flows: readonly TimedFlow[]): number {
  let sum = 0;
  let weighted = 0;
  for (const f of flows) { sum += f.amount; weighted += f.amount * (1 - f.at); }
  return (end - start - sum) / (start + weighted);
}

/**
 * True time-weighted return from valuations at each flow: `valuations[i]` is the value just
 * before flow i (and the last one the end value); sub-period i runs from (previous value +
 * previous flow) to valuations[i]. Linked: Π(1 + rᵢ) − 1.
 */
export function trueTimeWeighted(start: number, segments: readonly { readonly valueBeforeFlow: number; readonly flow: number }[], end: number): number {
  let growth = 1;
  let base = start;
  for (const s of segments) {
    growth *= s.valueBeforeFlow / base;
    base = s.valueBeforeFlow + s.flow;
  }
  return growth * (end / base) - 1;
}

/** Links sub-period returns geometrically: Π(1 + rᵢ) − 1. */
export function link(returns: readonly number[]): number {
  let growth = 1;
  for (const r of returns) growth *= 1 + r;
  return growth - 1;
}
