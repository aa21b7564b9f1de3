// True time-weighted returns in a real sync (issue 17, item 1): a large flow's hour is valued at the
// flow's minute from a one-minute bar fetched from the venue once, kept in minute_marks (public data
// keyed by venue, market and minute) and reused by every later run; a venue without that bar leaves
// the hour valued at the hour mark and flagged estimated-mark, asked once. LARGE_FLOW_SHARE reaches
// the engine through the sync's dependencies.
import test from 'ava';
import { runSyncActivity, type SyncActivityDeps, type SyncPosition } from '../../src/actors/sync-activity.js';
import { inProcessAggregator } from '../../src/domain/in-process-aggregator.js';
import type { AccountKey, Candle, CashFlow, Fill } from '../../src/domain/types.js';
import type { VenueConnector } from '../../src/exchanges/connector.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { sql } from '../../src/storage/pool.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const DAY = 24 * H;

interface Venue { fills: Fill[]; flows: CashFlow[]; candles: Candle[]; minute: Map<number, string>; minuteCalls: number[] }

function scripted(venue: Venue, withMinuteBars = true): VenueConnector {
  return {
    exchange: 'binance',
    baseCurrency: 'USDT',
    async *fetchFills() { await Promise.resolve(); yield { items: venue.fills, cursor: `f${venue.fills.length}` }; },
    async *fetchCashFlows() { await Promise.resolve(); yield { items: venue.flows, cursor: `c${venue.flows.length}` }; },
    // The venue's balances match the records (no reconciliation adjustment interferes).
    fetchBalances: async () => { await Promise.resolve(); return [{ asset: 'USDT', total: '2500' }, { asset: 'BTC', total: '0.01' }]; },
    fetchHourlyCandles: async (symbol, from, to) => { await Promise.resolve(); return venue.candles.filter((c) => c.symbol === symbol && c.openTime >= from && c.openTime < to); },
    ...(withMinuteBars ? {
      fetchMinuteCandle: async (symbol: string, minute: number) => {
        await Promise.resolve();
        venue.minuteCalls.push(minute);
        const open = venue.minute.get(minute);
        return open === undefined ? null : { symbol, openTime: minute, open, high: open, low: open, close: open, volume: '1' };
      },
    } : {}),
    close: async () => { await Promise.resolve(); },
  };
}

let n = 0;
async function newAccount(): Promise<{ account: AccountKey; generation: number }> {
  const account: AccountKey = { userUid: `minute-${++n}`, exchange: 'binance' };
  await db().pool.query(sql.unsafe`INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${account.userUid}, 'binance', '\\x00'::bytea, 1)`);
  const stored = await createAccountStore(db().pool).loadConnection(account);
  return { account, generation: stored!.generation };
}

/**
 * 1,000 USDT deposited at T+1m; 0.01 BTC bought at 50,000 at T+1h+1m; 2,000 USDT deposited at
 * T+2h+30m (twice the equity: large). BTC marks 50,000 until T+2h, 52,000 at T+3h.
 */
function history(t0: number, minuteOpen: string | null): Venue {
  const flowAt = t0 + 2 * H + 30 * 60_000;
  const candle = (openTime: number, close: string): Candle => ({ symbol: 'BTC/USDT', openTime, open: close, high: close, low: close, close, volume: '1' });
  return {
    flows: [
      { exchangeFlowId: 'd1', kind: 'deposit', asset: 'USDT', amount: '1000', occurredAt: t0 + 60_000 },
      { exchangeFlowId: 'd2', kind: 'deposit', asset: 'USDT', amount: '2000', occurredAt: flowAt },
    ],
    fills: [{ exchangeTradeId: '1', symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side: 'buy', quantity: '0.01', price: '50000', fee: '0', feeAsset: 'USDT', executedAt: t0 + H + 60_000 }],
    candles: [candle(t0 - H, '50000'), candle(t0, '50000'), candle(t0 + H, '50000'), candle(t0 + 2 * H, '52000')],
    minute: minuteOpen === null ? new Map() : new Map([[flowAt, minuteOpen]]),
    minuteCalls: [],
  };
}

async function sync(deps: SyncActivityDeps, account: AccountKey, generation: number, connector: VenueConnector): Promise<void> {
  const position: SyncPosition = { fillsCursor: null, cashFlowsCursor: null, engine: null };
  await runSyncActivity(deps, { account, generation, connector, mode: 'full', position, signal: new AbortController().signal });
}

test('a large flow\'s hour is valued at the flow\'s minute bar, fetched from the venue once and reused by a recompute', async (t) => {
  const t0 = Date.UTC(2026, 0, 5);
  const store = createAccountStore(db().pool);
  const { account, generation } = await newAccount();
  const venue = history(t0, '51000');
  const deps = { store, aggregator: inProcessAggregator, clock: new ManualClock(t0 + 3 * H + 60_000), costMethod: 'average' as const };
  await sync(deps, account, generation, scripted(venue));
  const hour = (await store.loadHourlyReturns(account, 0, t0 + 3 * H)).find((h) => h.hourStart === t0 + 2 * H)!;
  // 1,000 → 1,010 at 02:30 (BTC at 51,000), then 3,010 → 3,020.
  const expected = 1.01 * (1 + 10 / 3010) - 1;
  t.true(Math.abs(hour.return - expected) < 1e-12, String(hour.return));
  t.deepEqual(hour.flags, ['revalued-at-flow']);
  t.deepEqual(venue.minuteCalls, [t0 + 2 * H + 30 * 60_000]);
  const kept = await store.minuteMarks!.load('binance', ['BTC/USDT'], t0, t0 + DAY);
  t.deepEqual(kept.map((m) => [m.minute, m.candle?.open]), [[t0 + 2 * H + 30 * 60_000, '51000']]);

  // A full recompute (and any other account on the venue) reads the kept bar: no second request.
  await sync(deps, account, generation, scripted(venue));
  t.is(venue.minuteCalls.length, 1);
  const again = (await store.loadHourlyReturns(account, 0, t0 + 3 * H)).find((h) => h.hourStart === t0 + 2 * H)!;
  t.is(again.return, hour.return);
});

test('a minute without a bar: the hour mark stands in, the hour is flagged estimated-mark, and the venue is asked only once', async (t) => {
  const t0 = Date.UTC(2026, 0, 12);
  const store = createAccountStore(db().pool);
  const { account, generation } = await newAccount();
  const venue = history(t0, null);
  const deps = { store, aggregator: inProcessAggregator, clock: new ManualClock(t0 + 3 * H + 60_000), costMethod: 'average' as const };
  await sync(deps, account, generation, scripted(venue));
  const hour = (await store.loadHourlyReturns(account, 0, t0 + 3 * H)).find((h) => h.hourStart === t0 + 2 * H)!;
  // BTC at its 02:00 mark at the flow: 1,000 → 1,000, then 3,000 → 3,020.
  t.true(Math.abs(hour.return - 20 / 3000) < 1e-12, String(hour.return));
  t.deepEqual(hour.flags, ['estimated-mark', 'revalued-at-flow']);
  await sync(deps, account, generation, scripted(venue));
  t.is(venue.minuteCalls.length, 1);
});

test('a venue without minute bars (IBKR Flex): hour mark, flagged estimated-mark, nothing kept', async (t) => {
  const t0 = Date.UTC(2026, 0, 19);
  const store = createAccountStore(db().pool);
  const { account, generation } = await newAccount();
  const venue = history(t0, '51000');
  const deps = { store, aggregator: inProcessAggregator, clock: new ManualClock(t0 + 3 * H + 60_000), costMethod: 'average' as const };
  await sync(deps, account, generation, scripted(venue, false));
  const hour = (await store.loadHourlyReturns(account, 0, t0 + 3 * H)).find((h) => h.hourStart === t0 + 2 * H)!;
  t.deepEqual(hour.flags, ['estimated-mark', 'revalued-at-flow']);
  t.deepEqual(await store.minuteMarks!.load('binance', ['BTC/USDT'], t0, t0 + DAY), []);
});

test('the large-flow share configured reaches the engine: above the flow\'s share the hour stays Modified Dietz', async (t) => {
  const t0 = Date.UTC(2026, 0, 26);
  const store = createAccountStore(db().pool);
  const { account, generation } = await newAccount();
  const venue = history(t0, '51000');
  // The 2,000 deposit is twice the equity: a share of 3 does not split it.
  const deps = { store, aggregator: inProcessAggregator, clock: new ManualClock(t0 + 3 * H + 60_000), costMethod: 'average' as const, largeFlowShare: 3 };
  await sync(deps, account, generation, scripted(venue));
  const hour = (await store.loadHourlyReturns(account, 0, t0 + 3 * H)).find((h) => h.hourStart === t0 + 2 * H)!;
  t.is(hour.flags, undefined);
  // Modified Dietz: (3,020 − 1,000 − 2,000) / (1,000 + 2,000 × 30/60).
  t.true(Math.abs(hour.return - 20 / 2000) < 1e-12, String(hour.return));
  t.deepEqual(venue.minuteCalls, []);
});
