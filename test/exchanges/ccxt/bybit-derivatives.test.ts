// A perpetuals account on Bybit v5 end to end: the real ccxt client against the Bybit fake (signed
// requests, 7-day windows, cursor paging, the transaction log and mark-price klines in Bybit's wire
// format), the real connector, the real supervisor → account actor → sync activity → engine, the real
// PostgreSQL store. The published hourly returns are checked against a hand computation.
import test from 'ava';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import type { AccountKey } from '../../../src/domain/types.js';
import { createBybitFake } from '../../../testkit/fakes/bybit-fake.js';
import type { SyntheticDerivatives, SyntheticLedgerRow } from '../../../testkit/fakes/derivatives-history.js';
import { addTransfer, type SyntheticAccount } from '../../../testkit/fakes/history.js';
import { createActorHarness } from '../../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../../testkit/support/database.js';
import { ManualClock } from '../../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const M = 60_000;
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

/** The perpetuals history of both tests: hours T0 … T0 + 6h, events in the first four. */
function perpetualsHistory(T0: number): { account: SyntheticAccount; derivatives: SyntheticDerivatives } {
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '1483.29' }, nextId: 1 };
  // External: 1000 USDT deposited at T0 and 500 at 3 h 45 min (Funding wallet; the transfers into the
  // unified account are internal and must not count again).
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '1000', fee: '0', time: T0 });
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '500', fee: '0', time: T0 + 3 * H + 45 * M });
  const row = (id: string, type: string, at: number, parts: Partial<Pick<SyntheticLedgerRow, 'cashFlow' | 'funding' | 'fee'>>): SyntheticLedgerRow =>
    ({ id, category: 'linear', type, raw: 'BTCUSDT', currency: 'USDT', cashFlow: parts.cashFlow ?? '0', funding: parts.funding ?? '', fee: parts.fee ?? '0', time: at });
  const marks: Record<number, string> = { [T0]: '110', [T0 + H]: '120', [T0 + 2 * H]: '112' };
  const derivatives: SyntheticDerivatives = {
    contracts: [
      { raw: 'BTCUSDT', category: 'linear', base: 'BTC', quote: 'USDT', settle: 'USDT', deliveryTime: 0 },
      { raw: 'BTCUSD', category: 'inverse', base: 'BTC', quote: 'USD', settle: 'BTC', deliveryTime: 0 },
    ],
    executions: [
      { id: 'e1', raw: 'BTCUSDT', category: 'linear', side: 'Buy', qty: '1', price: '100', execType: 'Trade', fee: '0.06', time: T0 + 10 * M },
      { id: 'e1f', raw: 'BTCUSDT', category: 'linear', side: 'Buy', qty: '1', price: '120', execType: 'Funding', fee: '1', time: T0 + H + M },
      { id: 'e2', raw: 'BTCUSDT', category: 'linear', side: 'Sell', qty: '1', price: '115', execType: 'Trade', fee: '0.05', time: T0 + 2 * H + 30 * M },
      { id: 'e3', raw: 'BTCUSDT', category: 'linear', side: 'Sell', qty: '2', price: '115', execType: 'Trade', fee: '0.1', time: T0 + 2 * H + 31 * M },
      { id: 'e4', raw: 'BTCUSDT', category: 'linear', side: 'Buy', qty: '2', price: '130', execType: 'BustTrade', fee: '1', time: T0 + 3 * H + 30 * M },
    ],
    ledger: [
      // Internal wallet transfers (Funding → Unified): never a flow, whatever their category.
      row('t1', 'TRANSFER_IN', T0 + 5 * M, { cashFlow: '1000' }),
      row('t2', 'TRANSFER_IN', T0 + 3 * H + 50 * M, { cashFlow: '500' }),
      row('l1', 'TRADE', T0 + 10 * M, { fee: '0.06' }),
      row('l2', 'SETTLEMENT', T0 + H + M, { funding: '-1' }), // funding paid by the long
      row('l3', 'TRADE', T0 + 2 * H + 30 * M, { cashFlow: '15', fee: '0.05' }),
      row('l4', 'TRADE', T0 + 2 * H + 31 * M, { fee: '0.1' }),
      row('l5', 'SETTLEMENT', T0 + 3 * H + M, { funding: '0.5' }), // funding received by the short
      row('l6', 'LIQUIDATION', T0 + 3 * H + 30 * M, { cashFlow: '-30', fee: '1' }),
    ],
    markClose: (_raw, openTime) => marks[openTime] ?? '131',
  };
  return { account, derivatives };
}

/**
 * Hour 0: deposit 1000 (weight 1), fee −0.06, long 1 @ 100 marked at 110: +10 → E = 1009.94.
 * Hour 1: funding −1, mark 120: unrealized +20 → E = 1018.94.
 * Hour 2: close +15, fees −0.15, short 2 @ 115 marked at 112: +6 → wallet 1013.79, E = 1019.79.
 * Hour 3: funding +0.5, liquidation −30 and fee −1 → 983.29 at 45 min, when the deposit of 500 (more
 * than the large-flow share of equity) splits the hour (true time-weighted, revalued at the flow):
 * (983.29 − 1019.79) / 1019.79, then 0 for the rest of the hour (flat) → E = 1483.29.
 * Hours 4, 5: nothing happens (flat) → 0.
 */
const EXPECTED = [(1009.94 - 0 - 1000) / (0 + 1000), (1018.94 - 1009.94) / 1009.94, (1019.79 - 1018.94) / 1018.94, (983.29 - 1019.79) / 1019.79, 0, 0];

function connectTo(baseUrl: string, T0: number) {
  return () => createCcxtConnector('bybit', { apiKey: 'deriv-key', secret: 'deriv-secret' }, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true,
    retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
  });
}

test('a Bybit perpetuals history (a long, a short, funding paid and received, a liquidation, a wallet transfer, a deposit) publishes the hand-computed returns', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  const { account, derivatives } = perpetualsHistory(T0);
  const fake = createBybitFake({ account, apiKey: 'deriv-key', secret: 'deriv-secret', derivatives });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());

  const alice: AccountKey = { userUid: 'perp-trader', exchange: 'bybit' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 6 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: connectTo(baseUrl, T0),
  });
  t.teardown(() => h.close());
  await h.addAccount(alice);
  const result = await h.supervisor.sync(alice, 'full');
  t.is(result.fillsIngested, 4, 'four contract executions (the Funding execution is a ledger entry)');

  const hours = await h.store.loadHourlyReturns(alice, 0, T0 + 6 * H);
  const expected = EXPECTED;
  t.deepEqual(hours.map((x) => x.hourStart), expected.map((_, k) => T0 + k * H));
  hours.forEach((x, k) => t.true(near(x.return, expected[k]!), `hour ${k}: ${x.return} vs ${expected[k]}`));
  t.true(near(hours[5]!.equityEnd, 1483.29));
  t.deepEqual(hours.map((x) => x.netFlow), [1000, 0, 0, 500, 0, 0], 'only the deposits are flows, not the wallet transfers');
  t.deepEqual(hours.map((x) => x.flags ?? []), [[], [], [], ['revalued-at-flow'], [], []]);

  const published = await h.store.loadDerivatives!(alice);
  t.truthy(published);
  t.is(published!.liquidations, 1);
  t.true(near(published!.maxLeverage, 224 / 1019.79));
  t.true(near(published!.fundingShare!, -0.5 / -16.71));
  t.true(near(published!.hours[0]!.leverage, 110 / 1009.94));
  t.is(published!.coverageStart, T0 - 24 * H);
  const reconciliation = await h.store.loadReconciliation(alice);
  t.is(reconciliation?.status, 'reconciled');
  t.is(reconciliation?.differingPositions, 0, 'the venue\'s positions match the book');
  t.deepEqual(fake.requestsTo('/v5/position/list').map((r) => `${r.params['category']}:${r.params['settleCoin'] ?? ''}`).sort(), ['inverse:', 'linear:USDC', 'linear:USDT']);

  // Requests: the ledger and both execution categories paged in 7-day windows, marks for the traded contract only.
  t.true(fake.requestsTo('/v5/account/transaction-log').length >= 1);
  t.deepEqual([...new Set(fake.requestsTo('/v5/execution/list').map((r) => r.params['category']))].sort(), ['inverse', 'linear', 'spot']);
  t.deepEqual([...new Set(fake.requestsTo('/v5/market/mark-price-kline').map((r) => r.params['symbol']))], ['BTCUSDT']);
});

test('two syncs, the first while the long is open, publish the same hours as one (unrealized P&L resumes at its booked value)', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  const { account, derivatives } = perpetualsHistory(T0);
  const fake = createBybitFake({ account, apiKey: 'deriv-key', secret: 'deriv-secret', derivatives });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const clock = new ManualClock(T0 + 2 * H + 5 * M);
  const carol: AccountKey = { userUid: 'perp-resume', exchange: 'bybit' };
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: connectTo(baseUrl, T0) });
  t.teardown(() => h.close());
  await h.addAccount(carol);
  await h.supervisor.sync(carol, 'incremental');
  t.is((await h.store.loadHourlyReturns(carol, 0, T0 + 6 * H)).length, 2, 'hours 0 and 1 (the long open at mark 120)');
  clock.advance(4 * H);
  await h.supervisor.sync(carol, 'incremental');
  const hours = await h.store.loadHourlyReturns(carol, 0, T0 + 6 * H);
  t.is(hours.length, 6);
  hours.forEach((x, k) => t.true(near(x.return, EXPECTED[k]!), `hour ${k}: ${x.return} vs ${EXPECTED[k]}`));
  const published = await h.store.loadDerivatives!(carol);
  t.is(published?.hours.length, 6);
  t.true(near(published!.maxLeverage, 224 / 1019.79));
  t.is(published?.liquidations, 1);
});

test('a Bybit position list that disagrees with the executions (a short the history does not explain) is reported unreconciled, not booked', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  const { account, derivatives } = perpetualsHistory(T0);
  const fake = createBybitFake({ account, apiKey: 'deriv-key', secret: 'deriv-secret', derivatives, positions: { BTCUSDT: '-0.5' } });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const erin: AccountKey = { userUid: 'perp-positions', exchange: 'bybit' };
  const h = createActorHarness({ database: db(), clock: new ManualClock(T0 + 6 * H + 30 * M), settings: { syncIntervalMs: 0 }, connectorFactory: connectTo(baseUrl, T0) });
  t.teardown(() => h.close());
  await h.addAccount(erin);
  const result = await h.supervisor.sync(erin, 'full');
  t.true(result.gapKinds.includes('unreconciled'));
  t.like(await h.store.loadReconciliation(erin), { status: 'unreconciled', differingAssets: 0, differingPositions: 1 });
  const hours = await h.store.loadHourlyReturns(erin, 0, T0 + 6 * H);
  hours.forEach((x, k) => t.true(near(x.return, EXPECTED[k]!), `hour ${k}: the returns are those of the executions`));
});
