// A small in-process engine standing in for the real one (src/domain + worker pool) in actor
// tests and the actor bench: cash + positions at the hour's close, Modified Dietz per hour,
// chained cumulative return, resumable JSON state. Floats are fine here; the real engine is
// tested on its own. `instrumentAggregator` wraps any engine (this one or the real pool) so tests
// can see its inputs and make it fail.
import type { AggregationInput, AggregationResult, Aggregator, PerformanceMetrics } from '../../src/domain/aggregation.js';
import type { HourlyReturn } from '../../src/domain/types.js';
import type { PnlTotals } from '../../src/actors/account-actor.js';

const HOUR = 3_600_000;

interface StandInState {
  readonly nextHour: number;
  readonly holdings: Record<string, number>;
  readonly marks: Record<string, number>;
  readonly equity: number;
  readonly growth: number;
  readonly fees: number;
}

export interface InstrumentedAggregator extends Aggregator {
  /** Every input the engine was given, in order. */
  readonly inputs: AggregationInput[];
  /** The next run throws `error`. */
  failNext(error: Error): void;
}

export function instrumentAggregator(inner: Aggregator): InstrumentedAggregator {
  const inputs: AggregationInput[] = [];
  const failures: Error[] = [];
  return {
    inputs,
    failNext: (error) => { failures.push(error); },
    aggregate: async (input, signal) => {
      inputs.push(input);
      const failure = failures.shift();
      if (failure !== undefined) throw failure;
      return inner.aggregate(input, signal);
    },
  };
}

export class StandInAggregator implements Aggregator {
  async aggregate(input: AggregationInput, signal?: AbortSignal): Promise<AggregationResult> {
    signal?.throwIfAborted();
    const prior = input.state as StandInState | null;
    const firstRecord = Math.min(input.fills[0]?.executedAt ?? Infinity, input.cashFlows[0]?.occurredAt ?? Infinity);
    const start = prior?.nextHour ?? (Number.isFinite(firstRecord) ? Math.floor(firstRecord / HOUR) * HOUR : input.untilHour);
    const holdings: Record<string, number> = { ...prior?.holdings };
    const marks: Record<string, number> = { ...prior?.marks };
    let equity = prior?.equity ?? 0;
    let growth = prior?.growth ?? 1;
    let fees = prior?.fees ?? 0;
    const closes = new Map<string, number>();
    for (const c of input.candles) closes.set(`${c.symbol}|${c.openTime}`, Number(c.close));
    const add = (asset: string, amount: number): void => { holdings[asset] = (holdings[asset] ?? 0) + amount; };
    const hourlyReturns: HourlyReturn[] = [];
    let fi = 0;
    let ci = 0;
    for (let hour = start; hour < input.untilHour; hour += HOUR) {
      let flow = 0;
      let weighted = 0;
      for (; ci < input.cashFlows.length && (input.cashFlows[ci]?.occurredAt ?? Infinity) < hour + HOUR; ci += 1) {
        const c = input.cashFlows[ci];
        if (c === undefined) continue;
        const signed = (c.kind === 'deposit' ? 1 : -1) * Number(c.amount);
        add(c.asset, signed);
        const value = c.asset === input.baseCurrency ? signed : signed * (marks[c.asset] ?? 0);
        flow += value;
        weighted += value * ((hour + HOUR - c.occurredAt) / HOUR);
      }
      for (; fi < input.fills.length && (input.fills[fi]?.executedAt ?? Infinity) < hour + HOUR; fi += 1) {
        const f = input.fills[fi];
        if (f === undefined) continue;
        const q = Number(f.quantity);
        const notional = q * Number(f.price);
        add(f.baseAsset, f.side === 'buy' ? q : -q);
        add(f.quoteAsset, f.side === 'buy' ? -notional : notional);
        add(f.feeAsset, -Number(f.fee));
        fees += f.feeAsset === input.baseCurrency ? Number(f.fee) : 0;
      }
      let end = 0;
      for (const [asset, qty] of Object.entries(holdings)) {
        if (asset === input.baseCurrency) { end += qty; continue; }
        const close = closes.get(`${asset}/${input.baseCurrency}|${hour}`);
        if (close !== undefined) marks[asset] = close;
        end += qty * (marks[asset] ?? 0);
      }
      const denominator = equity + weighted;
      if (denominator > 0) {
        const r = (end - equity - flow) / denominator;
        growth *= 1 + r;
        hourlyReturns.push({ hourStart: hour, return: r, cumulativeReturn: growth - 1, equityEnd: end, netFlow: flow });
      }
      equity = end;
    }
    const state: StandInState = { nextHour: Math.max(start, input.untilHour), holdings, marks, equity, growth, fees };
    const cash = holdings[input.baseCurrency] ?? 0;
    return {
      hourlyReturns,
      snapshot: start < input.untilHour || prior !== null ? { at: input.untilHour, balance: cash, equity } : null,
      state, gaps: [], realizedPnl: 0, unrealizedPnl: equity - cash, totalFees: fees,
    };
  }
}

/** Stand-in for the domain's metrics function. */
export function standInMetrics(returns: readonly HourlyReturn[], totals: PnlTotals): PerformanceMetrics {
  const last = returns.at(-1);
  const values = returns.map((r) => r.return);
  return {
    hours: returns.length,
    cumulativeReturn: last?.cumulativeReturn ?? 0,
    annualizedReturn: 0, annualizedVolatility: 0, maxDrawdown: 0, maxDrawdownPeakHour: null, maxDrawdownTroughHour: null,
    sharpe: null, sortino: null, calmar: null,
    positiveHourShare: values.length === 0 ? 0 : values.filter((v) => v > 0).length / values.length,
    bestHour: values.length === 0 ? null : Math.max(...values),
    worstHour: values.length === 0 ? null : Math.min(...values),
    totalFees: totals.totalFees, realizedPnl: totals.realizedPnl, unrealizedPnl: totals.unrealizedPnl,
  };
}
