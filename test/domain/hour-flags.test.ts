// Every data-quality flag the issue lists (17, item 3) is set by some rule of the engine, on the
// hour the rule applied to, and survives the bit mask. `venue-history-cut` belongs to the venue
// lookback work and is set outside the engine; it is only checked to round-trip here.
import test from 'ava';
import { aggregate, type EngineInput } from '../../src/domain/in-process-aggregator.js';
import { HOUR_FLAGS, flagsToMask, maskToFlags, type HourFlag } from '../../src/domain/hour-flags.js';
import type { CashFlow, HourlyReturn } from '../../src/domain/types.js';
import { balance, candle, deposit, fill, H, input, T0 } from './history.js';

const adjustment = (at: number, kind: 'adjustment-in' | 'adjustment-out', asset: string, amount: string): CashFlow =>
  ({ exchangeFlowId: `reconcile:${asset}:${at}`, kind, asset, amount, occurredAt: at });

/** All hours of a run, valued and unvalued, oldest first. */
function hoursOf(history: EngineInput): HourlyReturn[] {
  const result = aggregate(history);
  return [...result.hourlyReturns, ...result.unvaluedHours ?? []].sort((a, b) => a.hourStart - b.hourStart);
}

const CASES: Record<Exclude<HourFlag, 'venue-history-cut'>, { history: EngineInput; hour: number }> = {
  // Bought, then never marked: valued at what it cost.
  'estimated-mark': { hour: 0, history: input({ openingBalances: [balance('USDT', '1000')], fills: [fill(T0 + 60_000, 'buy', 'XYZ/USDT', '10', '5')] }) },
  // A mark at the start, no candle closing at the end: carried forward.
  'stale-mark': { hour: 0, history: input({ openingBalances: [balance('USDT', '1000'), balance('BTC', '1')], candles: [candle('BTC/USDT', T0 - H, '100')] }) },
  // Deposited without any price: its value is unknown.
  'missing-mark': { hour: 0, history: input({ openingBalances: [balance('USDT', '1000')], cashFlows: [deposit(T0 + 60_000, 'XYZ', '10')] }) },
  // Reconciliation booked a correction: an external flow that must not pass silently.
  'unexplained-adjustment': { hour: 0, history: input({ openingBalances: [balance('USDT', '1000')], cashFlows: [adjustment(T0 + 60_000, 'adjustment-in', 'USDT', '5')] }) },
  // Sold more than held (history incomplete).
  oversold: { hour: 0, history: input({ openingBalances: [balance('USDT', '1000')], fills: [fill(T0 + 60_000, 'sell', 'BTC/USDT', '1', '100')], candles: [candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '100')] }) },
  // A deposit of half the account's equity splits the hour.
  'revalued-at-flow': { hour: 0, history: { ...input({ openingBalances: [balance('USDT', '1000')], cashFlows: [deposit(T0 + 30 * 60_000, 'USDT', '500')] }), largeFlowShare: 0.1 } },
  // Nothing held and nothing moved in the first hour: no return, but the hour is there.
  unvalued: { hour: 0, history: input({ untilHour: T0 + 2 * H, cashFlows: [deposit(T0 + H + 60_000, 'USDT', '100')] }) },
};

for (const [flag, { history, hour }] of Object.entries(CASES) as [HourFlag, { history: EngineInput; hour: number }][]) {
  test(`the engine sets ${flag} on the hour its rule applied to, and on no other`, (t) => {
    const hours = hoursOf(history);
    const target = hours.find((h) => h.hourStart === T0 + hour * H);
    t.truthy(target, 'the hour is published');
    t.true((target!.flags ?? []).includes(flag), JSON.stringify(target));
    for (const h of hours) if (h !== target) t.false((h.flags ?? []).includes(flag));
  });
}

test('without the rule the flag is absent: a plain deposit and a priced trade leave the hour unflagged', (t) => {
  const hours = hoursOf(input({
    openingBalances: [balance('USDT', '1000')], cashFlows: [deposit(T0 + 60_000, 'USDT', '5')],
    fills: [fill(T0 + 120_000, 'buy', 'BTC/USDT', '1', '100')], candles: [candle('BTC/USDT', T0 - H, '100'), candle('BTC/USDT', T0, '101')],
  }));
  t.is(hours.length, 1);
  t.is(hours[0]!.flags, undefined);
});

test('every listed flag has a rule here or an owner elsewhere, and each survives the stored bit mask', (t) => {
  t.deepEqual([...Object.keys(CASES), 'venue-history-cut'].sort(), [...HOUR_FLAGS].sort());
  for (const flag of HOUR_FLAGS) t.deepEqual(maskToFlags(flagsToMask([flag])), [flag]);
  t.deepEqual(maskToFlags(flagsToMask([...HOUR_FLAGS])), [...HOUR_FLAGS]);
});
