// A MEXC futures account end to end: the real ccxt client against the MEXC fake's contract API
// (ApiKey/Request-Time/Signature headers, symbol-required order_deals found through history_orders,
// 90-day spans and page_num paging, funding records, fair-price klines, the futures wallet), the real
// connector, supervisor → actor → sync → engine, and PostgreSQL. MEXC has no P&L ledger: realized
// P&L comes from the book (closes at the deal price, vol × contractSize) and fees from the deals.
import test from 'ava';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import type { AccountKey } from '../../../src/domain/types.js';
import { createBinanceLikeFake } from '../../../testkit/fakes/binance-like-fake.js';
import type { MexcContractHistory, MexcDealRow } from '../../../testkit/fakes/mexc-contract-routes.js';
import { addTransfer, type SyntheticAccount } from '../../../testkit/fakes/history.js';
import { createActorHarness } from '../../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../../testkit/support/database.js';
import { ManualClock } from '../../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const H = 3_600_000;
const M = 60_000;
const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
const credential = { apiKey: 'mx0vglcontract', secret: 'contract-secret' };

/** The history of both tests: hours T0 … T0 + 6h, events in the first four; `wallet` is the futures wallet now (mutable). */
function mexcHistory(T0: number): { account: SyntheticAccount; contract: MexcContractHistory & { wallet: Record<string, string> } } {
  // Everything was moved to the futures wallet: the spot wallet is empty.
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '0' }, nextId: 1 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '1000', fee: '0', time: T0 });
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '500', fee: '0', time: T0 + 3 * H + 45 * M });
  let id = 299_444_585;
  // BTC_USDT: 0.0001 BTC a contract, so 10,000 contracts are 1 BTC.
  const deal = (side: MexcDealRow['side'], vol: number, price: number, fee: number, at: number, category: MexcDealRow['category'] = 1): MexcDealRow =>
    ({ id: ++id, orderId: id + 265_307_163, raw: 'BTC_USDT', side, vol, price, fee, feeCurrency: 'USDT', category, time: at });
  const marks: Record<number, string> = { [T0]: '110', [T0 + H]: '120', [T0 + 2 * H]: '112' };
  const contract: MexcContractHistory & { wallet: Record<string, string> } = {
    contracts: [
      { raw: 'BTC_USDT', base: 'BTC', quote: 'USDT', settle: 'USDT', contractSize: 0.0001 },
      { raw: 'ETH_USDT', base: 'ETH', quote: 'USDT', settle: 'USDT', contractSize: 0.01 },
    ],
    deals: [
      deal(1, 10_000, 100, 0.06, T0 + 10 * M), // open long 1 BTC
      deal(4, 10_000, 115, 0.05, T0 + 2 * H + 30 * M), // close long: +15 by the book
      deal(3, 20_000, 115, 0.1, T0 + 2 * H + 31 * M), // open short 2 BTC
      deal(2, 20_000, 130, 1, T0 + 3 * H + 30 * M, 2), // the short liquidated (category 2): −30 by the book
    ],
    funding: [
      { id: 7_423_910, raw: 'BTC_USDT', positionType: 1, funding: -1, time: T0 + H + M }, // paid by the long
      { id: 7_423_911, raw: 'BTC_USDT', positionType: 2, funding: 0.5, time: T0 + 3 * H + M }, // received by the short
    ],
    // Spot → futures: internal (the reader does not even ask).
    transfers: [
      { id: 1, currency: 'USDT', amount: 1000, type: 'IN', time: T0 + 5 * M },
      { id: 2, currency: 'USDT', amount: 500, type: 'IN', time: T0 + 3 * H + 50 * M },
    ],
    wallet: { USDT: '1483.29' },
    markClose: (_raw, openTime) => marks[openTime] ?? '131',
  };
  return { account, contract };
}

/** `now`: the connector's clock (window ends), so a sync at an earlier test time sees only what happened by then. */
function connectTo(baseUrl: string, T0: number, now?: () => number) {
  return () => createCcxtConnector('mexc', credential, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: T0 - 24 * H, settleLagMs: 1000, derivatives: true, ...(now === undefined ? {} : { now }),
    retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 5_000, maxAttempts: 3, attemptTimeoutMs: 5_000 },
  });
}

/**
 * Hour 0: deposit 1000, fee −0.06, long 1 @ 100 marked at 110: +10 → E = 1009.94.
 * Hour 1: funding −1, mark 120: unrealized +20 → E = 1018.94.
 * Hour 2: close at 115 realizes +15 (book), fees −0.15, short 2 @ 115 marked at 112: +6 → wallet 1013.79, E = 1019.79.
 * Hour 3: funding +0.5, the liquidation at 130 realizes −30 (book) and its fee −1 → 983.29 at
 * 45 min, when the 500 deposit splits the hour (true time-weighted): (983.29 − 1019.79) / 1019.79; then flat.
 */
const EXPECTED = [(1009.94 - 1000) / 1000, (1018.94 - 1009.94) / 1009.94, (1019.79 - 1018.94) / 1018.94, (983.29 - 1019.79) / 1019.79, 0, 0];

test('a MEXC futures history (a long, a short, funding paid and received, a liquidation, wallet transfers, deposits) publishes the hand-computed returns', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  const { account, contract } = mexcHistory(T0);
  const fake = createBinanceLikeFake('mexc', { account, ...credential, contract });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());

  const alice: AccountKey = { userUid: 'mexc-perp-trader', exchange: 'mexc' };
  const h = createActorHarness({
    database: db(), clock: new ManualClock(T0 + 6 * H + 30 * M), settings: { syncIntervalMs: 0 },
    connectorFactory: connectTo(baseUrl, T0),
  });
  t.teardown(() => h.close());
  await h.addAccount(alice);
  const result = await h.supervisor.sync(alice, 'full');
  t.is(result.fillsIngested, 4);

  const hours = await h.store.loadHourlyReturns(alice, 0, T0 + 6 * H);
  const expected = EXPECTED;
  t.deepEqual(hours.map((x) => x.hourStart), expected.map((_, k) => T0 + k * H));
  hours.forEach((x, k) => t.true(near(x.return, expected[k]!), `hour ${k}: ${x.return} vs ${expected[k]}`));
  t.true(near(hours[5]!.equityEnd, 1483.29));
  t.deepEqual(hours.map((x) => x.netFlow), [1000, 0, 0, 500, 0, 0], 'only the deposits are flows, not the wallet transfers');

  const published = await h.store.loadDerivatives!(alice);
  t.is(published?.liquidations, 1, 'the category-2 deal is a liquidation');
  t.true(near(published!.maxLeverage, 224 / 1019.79));
  // Funding −0.5 over realized −15 (book), fees −1.21 (deals) and funding −0.5.
  t.true(near(published!.fundingShare!, -0.5 / -16.71));
  t.is(published!.coverageStart, T0 - 24 * H);
  t.is((await h.store.loadReconciliation(alice))?.status, 'reconciled');
  // Deals only for the symbol the orders show, never for every listed contract.
  t.true(fake.requestsTo('/api/v1/private/order/list/order_deals').every((r) => r.params['symbol'] === 'BTC_USDT'));
  t.true(fake.requestsTo('/api/v1/private/order/list/').every((r) => Number(r.params['end_time']) - Number(r.params['start_time']) <= 90 * 24 * H));
  t.is(fake.requestsTo('/api/v1/private/account/transfer_record').length, 0);
});

test('two syncs, the first with the close and the new short still pending, publish the same hours as one and reconcile both times', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 6 * H;
  const { account, contract } = mexcHistory(T0);
  // The futures wallet at 2 h 35 min: 1000 − 0.06 − 1 + 15 − 0.05 − 0.1 (what the venue reports then).
  contract.wallet['USDT'] = '1013.79';
  const fake = createBinanceLikeFake('mexc', { account, ...credential, contract });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const clock = new ManualClock(T0 + 2 * H + 35 * M);
  const carol: AccountKey = { userUid: 'mexc-resume', exchange: 'mexc' };
  const h = createActorHarness({ database: db(), clock, settings: { syncIntervalMs: 0 }, connectorFactory: connectTo(baseUrl, T0, () => clock.now()) });
  t.teardown(() => h.close());
  await h.addAccount(carol);
  await h.supervisor.sync(carol, 'incremental');
  t.is((await h.store.loadHourlyReturns(carol, 0, T0 + 6 * H)).length, 2, 'hours 0 and 1');
  t.is((await h.store.loadReconciliation(carol))?.status, 'reconciled', 'the pending close\'s +15 (book) and fees explain the wallet');
  contract.wallet['USDT'] = '1483.29';
  clock.advance(4 * H);
  await h.supervisor.sync(carol, 'incremental');
  const hours = await h.store.loadHourlyReturns(carol, 0, T0 + 6 * H);
  t.is(hours.length, 6);
  hours.forEach((x, k) => t.true(near(x.return, EXPECTED[k]!), `hour ${k}: ${x.return} vs ${EXPECTED[k]}`));
  const published = await h.store.loadDerivatives!(carol);
  t.is(published?.liquidations, 1);
  t.true(near(published!.fundingShare!, -0.5 / -16.71));
  t.is((await h.store.loadReconciliation(carol))?.status, 'reconciled');
});

test('a MEXC key without futures read access (contract calls answer 701) still syncs its spot history, with no derivatives', async (t) => {
  const now = Date.now();
  const T0 = Math.floor(now / H) * H - 3 * H;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '250' }, nextId: 1 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '250', fee: '0', time: T0 + 10 * M });
  const fake = createBinanceLikeFake('mexc', { account, ...credential, contract: 'denied' });
  const baseUrl = await fake.start();
  t.teardown(() => fake.stop());
  const bob: AccountKey = { userUid: 'mexc-spot-only', exchange: 'mexc' };
  const h = createActorHarness({ database: db(), clock: new ManualClock(T0 + 3 * H + 30 * M), settings: { syncIntervalMs: 0 }, connectorFactory: connectTo(baseUrl, T0) });
  t.teardown(() => h.close());
  await h.addAccount(bob);
  await h.supervisor.sync(bob, 'full');
  t.deepEqual((await h.store.loadHourlyReturns(bob, 0, T0 + 3 * H)).map((x) => x.netFlow), [250, 0, 0]);
  t.is(await h.store.loadDerivatives!(bob), null);
  t.is((await h.store.loadReconciliation(bob))?.status, 'reconciled');
  t.true(fake.requestsTo('/api/v1/private/account/assets').length >= 1, 'the futures account was asked for');
  t.is(fake.requestsTo('/api/v1/private/order/').length + fake.requestsTo('/api/v1/private/position/').length, 0, 'and nothing more once it refused');
});
