// Trade statistics from fills, published only as ratios (issue 17): no count, amount or time that
// identifies a single position leaves. Runs inside the enclave. Pure.
import type { Fill } from '../types.js';
import { decimalToNumber } from '../decimal.js';
import { HOUR_MS } from './series.js';

/** Fewer closed positions than this and nothing is published (a ratio over few positions describes them). */
export const MIN_CLOSED_POSITIONS = 5;

export interface TradeStatistics {
  /** Share of closed positions with a positive result (fees included). */
  readonly winRate: number;
  /** Gross profit / gross loss; null without a losing position. */
  readonly profitFactor: number | null;
  /** Mean win / mean loss (both as positive amounts); null without wins or without losses. */
  readonly averageWinLossRatio: number | null;
  /** Mean time from a position's opening fill to its closing fill, hours. */
  readonly averageHoldingHours: number;
  /** Most consecutive losing positions (by closing time). */
  readonly longestLosingStreak: number;
}

interface Open {
  quantity: number;
  /** Signed cash: spent negative, received positive, fees negative. */
  cash: number;
  openedAt: number;
}

/**
 * A position is the life of one symbol's holding from flat to flat (long: bought then sold back to
 * zero; short: the reverse). Its result is the cash it moved, fees included (fees in the quote
 * asset only; others are not converted and are left out). Positions still open are not counted.
 * Null (with MIN_CLOSED_POSITIONS) when too few closed to publish.
 */
export function tradeStatistics(fills: readonly Fill[], fromMs: number, toMs: number): TradeStatistics | null {
  const open = new Map<string, Open>();
  const closed: { result: number; openedAt: number; closedAt: number }[] = [];
  const sorted = [...fills].sort((a, b) => a.executedAt - b.executedAt);
  for (const f of sorted) {
    const q = decimalToNumber(f.quantity);
    const price = decimalToNumber(f.price);
    const fee = f.feeAsset === f.quoteAsset ? decimalToNumber(f.fee) : 0;
    const signed = f.side === 'buy' ? q : -q;
    const p = open.get(f.symbol) ?? { quantity: 0, cash: 0, openedAt: f.executedAt };
    if (p.quantity === 0) p.openedAt = f.executedAt;
    const before = p.quantity;
    const after = before + signed;
    const tolerance = 1e-9 * Math.max(Math.abs(before), q);
    if (before !== 0 && Math.sign(after) !== Math.sign(before) && Math.abs(after) > tolerance) {
      // Crosses zero: the part that closes ends this position, the rest opens the next one.
      const closing = Math.abs(before) / q;
      p.cash += -signed * price * closing - fee * closing;
      closed.push({ result: p.cash, openedAt: p.openedAt, closedAt: f.executedAt });
      open.set(f.symbol, { quantity: after, cash: -(after * price) - fee * (1 - closing), openedAt: f.executedAt });
      continue;
    }
    p.cash += -signed * price - fee;
    p.quantity = Math.abs(after) <= tolerance ? 0 : after;
    if (p.quantity === 0) {
      closed.push({ result: p.cash, openedAt: p.openedAt, closedAt: f.executedAt });
      open.delete(f.symbol);
    } else {
      open.set(f.symbol, p);
    }
  }
  const inPeriod = closed.filter((c) => c.closedAt >= fromMs && c.closedAt < toMs);
  if (inPeriod.length < MIN_CLOSED_POSITIONS) return null;
  let wins = 0;
  let grossProfit = 0;
  let grossLoss = 0;
  let losses = 0;
  let holding = 0;
  let streak = 0;
  let longest = 0;
  for (const c of inPeriod) {
    holding += c.closedAt - c.openedAt;
    if (c.result > 0) { wins++; grossProfit += c.result; streak = 0; }
    else {
      if (c.result < 0) { losses++; grossLoss -= c.result; }
      streak++;
      if (streak > longest) longest = streak;
    }
  }
  const n = inPeriod.length;
  return {
    winRate: wins / n,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    averageWinLossRatio: wins > 0 && losses > 0 ? grossProfit / wins / (grossLoss / losses) : null,
    averageHoldingHours: holding / n / HOUR_MS,
    longestLosingStreak: longest,
  };
}
