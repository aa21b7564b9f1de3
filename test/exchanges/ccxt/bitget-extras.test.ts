// Bitget maker rebates and margin borrow interest (cross and isolated) through the real ccxt
// connector against the fake Bitget (testkit/fakes/bitget-fake.ts, bitget-margin-routes.ts: bodies of
// Bitget's documented examples), then through the engine: a rebate is a negative fee (money received);
// interest is an expense in the borrowed coin, performance, never a flow.
import test from 'ava';
import { aggregate } from '../../../src/domain/in-process-aggregator.js';
import { reconcile } from '../../../src/domain/reconcile.js';
import type { CashFlow, Fill } from '../../../src/domain/types.js';
import type { Page } from '../../../src/exchanges/connector.js';
import { createCcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import { createBitgetFake } from '../../../testkit/fakes/bitget-fake.js';
import type { BitgetInterestRow } from '../../../testkit/fakes/bitget-margin-routes.js';
import { DAY_MS, HOUR_MS, addTransfer, type SyntheticAccount } from '../../../testkit/fakes/history.js';

const KEY = 'bg_marginkey0001';
const SECRET = 'bgmarginsecret0001';
const PASS = 'marginpass';

async function collect<T>(pages: AsyncIterable<Page<T>>): Promise<{ items: T[]; cursor: string | null }> {
  const items: T[] = [];
  let cursor: string | null = null;
  for await (const page of pages) { items.push(...page.items); cursor = page.cursor; }
  return { items, cursor };
}

test('bitget: cross and isolated margin interest become expenses in the borrowed coin, paged back with idLessThan, read once; through the engine no net flow', async (t) => {
  const now = Date.now();
  const hour = (days: number) => Math.floor((now - days * DAY_MS) / HOUR_MS) * HOUR_MS + 5 * 60_000;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: {}, nextId: 900_001 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '1000', fee: '0', time: now - 20 * DAY_MS });
  // The documented example rows (cross: interestId 1112122013642272769, 0.00006834 USDT; isolated:
  // 1112125304879067137, 0.0000685 USDT on BTCUSDT), moved into the last days; 150 hourly cross rows
  // after the first so the walk needs two pages.
  const crossed: BitgetInterestRow[] = [{ interestId: '1112122013642272769', interestCoin: 'USDT', dailyInterestRate: '0.00041', loanCoin: 'USDT', interestAmount: '0.00006834', interstType: 'first', cTime: hour(10) }];
  for (let i = 1; i <= 150; i += 1) {
    crossed.push({ interestId: String(1112122013642272769n + BigInt(i)), interestCoin: 'USDT', dailyInterestRate: '0.00041', loanCoin: 'USDT', interestAmount: '0.00000285', interstType: 'scheduled', cTime: hour(10) + i * HOUR_MS });
  }
  const isolated: BitgetInterestRow[] = [{ interestId: '1112125304879067137', interestCoin: 'USDT', dailyInterestRate: '0.00041095', loanCoin: 'USDT', interestAmount: '0.0000685', interstType: 'first', symbol: 'BTCUSDT', cTime: hour(3) }];
  // 400 USDT moved to cross margin and 100 to the BTCUSDT isolated pair (no events); the interest was charged there.
  const left = 1000 - 0.00006834 - 150 * 0.00000285 - 0.0000685;
  account.balances['USDT'] = '500';
  const crossNet = String(400 - 0.00006834 - 150 * 0.00000285);
  const crossedAssets = [{ coin: 'USDT', totalAmount: String(Number(crossNet) + 50), borrow: '50', interest: '0', net: crossNet }];
  const isolatedAssets = [{ symbol: 'BTCUSDT', coin: 'USDT', totalAmount: String(100 - 0.0000685), borrow: '0', interest: '0', net: String(100 - 0.0000685) }];
  const fake = createBitgetFake({ account, apiKey: KEY, secret: SECRET, passphrase: PASS, margin: { crossed, isolated, crossedAssets, isolatedAssets } });
  const baseUrl = await fake.start();
  const connector = createCcxtConnector('bitget', { apiKey: KEY, secret: SECRET, passphrase: PASS }, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: now - 30 * DAY_MS, settleLagMs: 1000,
    retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 10_000, maxAttempts: 3, attemptTimeoutMs: 10_000 },
  });
  t.teardown(async () => { await connector.close(); await fake.stop(); });

  const flows = await collect<CashFlow>(connector.fetchCashFlows(null));
  const interest = flows.items.filter((c) => c.exchangeFlowId.startsWith('interest:'));
  t.is(interest.length, 152);
  t.true(interest.every((c) => c.kind === 'expense' && c.asset === 'USDT'));
  t.like(interest.find((c) => c.exchangeFlowId === 'interest:crossed:1112122013642272769'), { amount: '0.00006834', occurredAt: hour(10) });
  t.like(interest.find((c) => c.exchangeFlowId === 'interest:isolated:1112125304879067137'), { amount: '0.0000685', occurredAt: hour(3) });
  t.is(new Set(interest.map((c) => c.exchangeFlowId)).size, 152, 'no row twice across the page border');
  t.is((await collect<CashFlow>(connector.fetchCashFlows(flows.cursor))).items.length, 0, 'read once');

  const fills = (await collect<Fill>(connector.fetchFills(null))).items;
  const r = aggregate({ baseCurrency: 'USDT', costMethod: 'average', state: null, openingBalances: [], fills, cashFlows: flows.items, candles: [], untilHour: Math.floor(now / HOUR_MS) * HOUR_MS });
  t.true(Math.abs(r.snapshot!.equity - left) < 1e-9, 'equity is what the venue holds');
  // The margin wallets count at their net asset (a borrow moves nothing): the account reconciles.
  const balances = await connector.fetchBalances();
  t.deepEqual(balances.filter((b) => b.wallet !== undefined).map((b) => [b.wallet, b.asset]), [['margin', 'USDT'], ['isolated', 'USDT']]);
  const check = reconcile({ positions: r.state.positions, pendingFills: [], pendingFlows: [], balances, marks: new Map(), baseCurrency: 'USDT', foundAt: now, previous: [] });
  t.deepEqual(check.differences, []);
  t.is(r.hourlyReturns.reduce((s, h) => s + h.netFlow, 0), 1000, 'only the deposit is a flow');
  const isolatedHour = r.hourlyReturns.find((h) => h.hourStart === Math.floor(hour(3) / HOUR_MS) * HOUR_MS)!;
  t.true(isolatedHour.return < 0, 'interest is a loss of its hour');
});

test('bitget: a maker rebate (a positive totalFee) arrives as a negative fee and goes through the engine as money received', async (t) => {
  const now = Date.now();
  const at = Math.floor((now - 2 * DAY_MS) / HOUR_MS) * HOUR_MS + 10 * 60_000;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: {}, nextId: 910_001 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '10000', fee: '0', time: now - 5 * DAY_MS });
  // Maker buy of 0.1 BTC at 50,000 with a rebate of 0.5 USDT (Bitget's fills example shape, feeDetail.totalFee positive).
  account.fills.push({ id: 910_100, orderId: 910_100, base: 'BTC', quote: 'USDT', side: 'buy', qty: '0.1', price: '50000', fee: '-0.5', feeAsset: 'USDT', time: at, maker: true });
  account.balances['USDT'] = '5000.5';
  account.balances['BTC'] = '0.1';
  const fake = createBitgetFake({ account, apiKey: KEY, secret: SECRET, passphrase: PASS });
  const baseUrl = await fake.start();
  const connector = createCcxtConnector('bitget', { apiKey: KEY, secret: SECRET, passphrase: PASS }, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: now - 30 * DAY_MS, settleLagMs: 1000,
    retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 10_000, maxAttempts: 3, attemptTimeoutMs: 10_000 },
  });
  t.teardown(async () => { await connector.close(); await fake.stop(); });
  const fills = (await collect<Fill>(connector.fetchFills(null))).items;
  t.deepEqual(fills.map((f) => [f.side, f.quantity, f.price, f.fee, f.feeAsset]), [['buy', '0.1', '50000', '-0.5', 'USDT']]);
  const flows = (await collect<CashFlow>(connector.fetchCashFlows(null))).items;
  const r = aggregate({ baseCurrency: 'USDT', costMethod: 'average', state: null, openingBalances: [], fills, cashFlows: flows, candles: [], untilHour: Math.floor(now / HOUR_MS) * HOUR_MS });
  const usdt = r.state.positions.find((p) => p.asset === 'USDT')!;
  t.true(Math.abs(usdt.quantity - 5000.5) < 1e-9, 'the rebate is paid in');
  t.true(r.totalFees < 0, 'net fees are negative');
});
