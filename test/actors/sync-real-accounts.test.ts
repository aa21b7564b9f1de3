// The sync activity on the real PostgreSQL store with a scripted venue: a bad record is
// quarantined and flagged while everything else is published; reconciliation runs on every sync,
// is published, and books a persisting difference as a flagged adjustment.
import test from 'ava';
import { runSyncActivity, type SyncPosition } from '../../src/actors/sync-activity.js';
import { inProcessAggregator } from '../../src/domain/in-process-aggregator.js';
import type { AccountKey, Balance, Candle, CashFlow, Fill } from '../../src/domain/types.js';
import type { VenueConnector } from '../../src/exchanges/connector.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { sql } from '../../src/storage/pool.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const T0 = Date.UTC(2026, 0, 5);

interface Venue { fills: Fill[]; flows: CashFlow[]; balances: Balance[]; candles: Candle[] }

function scripted(venue: Venue): VenueConnector {
  return {
    exchange: 'binance',
    baseCurrency: 'USDT',
    async *fetchFills() { await Promise.resolve(); yield { items: venue.fills, cursor: `f${venue.fills.length}` }; },
    async *fetchCashFlows() { await Promise.resolve(); yield { items: venue.flows, cursor: `c${venue.flows.length}` }; },
    fetchBalances: async () => { await Promise.resolve(); return venue.balances; },
    fetchHourlyCandles: async (symbol, from, to) => { await Promise.resolve(); return venue.candles.filter((c) => c.symbol === symbol && c.openTime >= from && c.openTime < to); },
    coverageStart: (stream) => (stream === 'fills' ? null : T0 - 90 * 24 * H),
    close: async () => { await Promise.resolve(); },
  };
}

let n = 0;
async function newAccount(): Promise<{ account: AccountKey; generation: number }> {
  const account: AccountKey = { userUid: `real-${++n}`, exchange: 'binance' };
  await db().pool.query(sql.unsafe`INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${account.userUid}, 'binance', '\\x00'::bytea, 1)`);
  const stored = await createAccountStore(db().pool).loadConnection(account);
  return { account, generation: stored!.generation };
}

const fill = (id: string, at: number, side: 'buy' | 'sell', quantity: string, price: string, fee = '0'): Fill =>
  ({ exchangeTradeId: id, symbol: 'BTC/USDT', baseAsset: 'BTC', quoteAsset: 'USDT', side, quantity, price, fee, feeAsset: 'USDT', executedAt: at });
const candles = (from: number, hours: number, close: string): Candle[] =>
  Array.from({ length: hours }, (_, i) => ({ symbol: 'BTC/USDT', openTime: from + i * H, open: close, high: close, low: close, close, volume: '1' }));

test('a sync with one bad record publishes everything else and flags that hour; reconciliation is published', async (t) => {
  const store = createAccountStore(db().pool);
  const { account, generation } = await newAccount();
  const clock = new ManualClock(T0 + 4 * H + 10 * 60_000);
  const venue: Venue = {
    flows: [{ exchangeFlowId: 'd1', kind: 'deposit', asset: 'USDT', amount: '1000', occurredAt: T0 + 60_000 }],
    fills: [
      fill('1', T0 + H + 60_000, 'buy', '0.01', '50000', '-0.05'), // a maker rebate
      fill('2', T0 + 2 * H + 60_000, 'buy', 'not-a-number', '50000'),
      fill('3', T0 + 3 * H + 60_000, 'sell', '0.005', '50000', '0.1'),
    ],
    balances: [{ asset: 'USDT', total: '749.95' }, { asset: 'BTC', total: '0.005' }],
    candles: candles(T0 - H, 6, '50000'),
  };
  const position: SyncPosition = { fillsCursor: null, cashFlowsCursor: null, engine: null };
  const outcome = await runSyncActivity({ store, aggregator: inProcessAggregator, clock, costMethod: 'average' },
    { account, generation, connector: scripted(venue), mode: 'full', position, signal: new AbortController().signal });
  t.is(outcome.fillsIngested, 2);
  t.is(outcome.hourlyReturnsWritten, 4);
  t.deepEqual(outcome.gaps.filter((g) => g.kind === 'quarantined').map((g) => g.hourStart), [T0 + 2 * H]);
  t.is(outcome.gaps.filter((g) => g.kind === 'unreconciled').length, 0);
  t.is((await store.loadHourlyReturns(account, 0, T0 + 10 * H)).length, 4);
  const published = await store.loadReconciliation(account);
  t.like(published, { status: 'reconciled', explainedShare: 1, differingAssets: 0, quarantined: 1, coverageStart: { fills: null, cashFlows: T0 - 90 * 24 * H } });
});

test('a holding never traded is marked unreconciled at once and becomes a flagged adjustment when the next sync still sees it', async (t) => {
  const store = createAccountStore(db().pool);
  const { account, generation } = await newAccount();
  const clock = new ManualClock(T0 + 2 * H + 60_000);
  const venue: Venue = {
    flows: [{ exchangeFlowId: 'd1', kind: 'deposit', asset: 'USDT', amount: '1000', occurredAt: T0 + 60_000 }],
    fills: [],
    balances: [{ asset: 'USDT', total: '1000' }, { asset: 'BTC', total: '0.002' }],
    candles: candles(T0 - H, 6, '50000'),
  };
  const position: SyncPosition = { fillsCursor: null, cashFlowsCursor: null, engine: null };
  const deps = { store, aggregator: inProcessAggregator, clock, costMethod: 'average' as const };
  const run = { account, generation, connector: scripted(venue), mode: 'incremental' as const, position, signal: new AbortController().signal };
  const first = await runSyncActivity(deps, run);
  t.deepEqual(first.gaps.filter((g) => g.kind === 'unreconciled').map((g) => g.asset), ['BTC']);
  t.like(await store.loadReconciliation(account), { status: 'unreconciled', differingAssets: 1 });
  t.is((await store.loadCashFlows(account, 0)).length, 1);

  clock.advance(H);
  await runSyncActivity(deps, run);
  const adjustments = (await store.loadCashFlows(account, 0)).filter((c) => c.kind === 'adjustment-in');
  t.deepEqual(adjustments.map((c) => [c.asset, c.amount]), [['BTC', '0.002']]);

  // Once booked, the adjustment explains the holding: the next sync after it is valued reconciles.
  clock.advance(H);
  const third = await runSyncActivity(deps, run);
  t.is(third.gaps.filter((g) => g.kind === 'unreconciled').length, 0);
  t.like(await store.loadReconciliation(account), { status: 'reconciled', explainedShare: 1 });
  const hours = await store.loadHourlyReturns(account, 0, clock.now());
  // The adjustment is an external flow: the hour it lands in shows it as net flow, not as return.
  const adjusted = hours.find((h) => h.netFlow > 0 && h.hourStart > T0);
  t.truthy(adjusted);
  t.true(Math.abs(adjusted!.return) < 1e-12);
  // …and is flagged in storage, so every reply that returns the hour shows it (issue 17, item 3).
  // (This venue serves no minute bars, so the BTC booked in kind is valued at the hour mark: estimated-mark too.)
  t.deepEqual(adjusted!.flags, ['estimated-mark', 'unexplained-adjustment']);
  t.is(hours.filter((h) => (h.flags ?? []).includes('unexplained-adjustment')).length, 1);
});
