// Bybit internal (off-chain) deposits and spot-margin borrow interest (issue 16, items 2-3) through
// the real ccxt connector against the fake Bybit, then the sync activity, the store and the engine.
// Rows follow the documented response examples (testkit/fakes/bybit-fake.ts cites each page).
import test from 'ava';
import { runSyncActivity, type SyncPosition } from '../../../src/actors/sync-activity.js';
import { inProcessAggregator } from '../../../src/domain/in-process-aggregator.js';
import type { AccountKey, CashFlow } from '../../../src/domain/types.js';
import { createCcxtConnector, type CcxtConnector } from '../../../src/exchanges/ccxt/ccxt-connector.js';
import { createAccountStore } from '../../../src/storage/create-account-store.js';
import { sql } from '../../../src/storage/pool.js';
import { createBybitFake, type BybitInternalDepositRow, type BybitTransactionLogRow } from '../../../testkit/fakes/bybit-fake.js';
import type { FakeVenueServer } from '../../../testkit/fakes/fake-server.js';
import { DAY_MS, HOUR_MS, addTransfer, type SyntheticAccount } from '../../../testkit/fakes/history.js';
import { useTestDatabase } from '../../../testkit/support/database.js';
import { ManualClock } from '../../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const KEY = 'BYBITEXTRASKEY000001';
const SECRET = 'BYBITEXTRASSECRET000000000001';

interface Scenario { now: number; account: SyntheticAccount; internal: BybitInternalDepositRow[]; log: BybitTransactionLogRow[]; fund?: Record<string, string>; at: (days: number) => number }

function scenario(): Scenario {
  const now = Date.now();
  const at = (days: number): number => Math.floor((now - days * DAY_MS) / 1000) * 1000;
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }], fills: [], transfers: [], balances: {}, nextId: 800_001 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '1000', fee: '0', time: at(20) });
  const seconds = (ms: number): string => String(Math.floor(ms / 1000));
  const internal: BybitInternalDepositRow[] = [
    { id: '1103', amount: '250', type: 1, coin: 'USDT', address: 'xxxx***@gmail.com', status: 2, createdTime: seconds(at(15)), txID: '77c37e5c-d9fa-41e5-bd13-c9b59d95' },
    { id: '1104', amount: '40', type: 1, coin: 'USDT', address: 'xxxx***@gmail.com', status: 3, createdTime: seconds(at(14)), txID: '88d48f6d-eafb-42f6-ce24-dac6aea6' },
    { id: '1105', amount: '60', type: 1, coin: 'USDT', address: 'xxxx***@gmail.com', status: 1, createdTime: seconds(at(2)), txID: '99e59a7e-fb0c-4307-df35-ebd7bfb7' },
  ];
  const row = (id: string, type: string, change: string, time: number): BybitTransactionLogRow => ({
    id, symbol: type === 'INTEREST' ? '' : 'XRPUSDT', category: type === 'INTEREST' ? 'spot' : 'linear', side: type === 'INTEREST' ? 'None' : 'Buy', transactionTime: String(time), type, transSubType: '',
    qty: '0', size: '0', currency: 'USDT', tradePrice: '0', funding: type === 'SETTLEMENT' ? change : '', fee: '0', cashFlow: '0', change, cashBalance: '0', feeRate: '', bonusChange: '',
    tradeId: '', orderId: '', orderLinkId: '', extraFees: '',
  });
  const log = [row('592324_INTEREST_1', 'INTEREST', '-0.003676', at(10)), row('592324_INTEREST_2', 'INTEREST', '-0.00183', at(10) + HOUR_MS), row('592324_XRPUSDT_161440249321', 'SETTLEMENT', '-0.5', at(9))];
  return { now, account, internal, log, at };
}

async function open(t: { teardown: (fn: () => Promise<void>) => void }, s: Scenario): Promise<{ connector: CcxtConnector; fake: FakeVenueServer }> {
  const fake = createBybitFake({ account: s.account, apiKey: KEY, secret: SECRET, internalDeposits: s.internal, transactionLog: s.log, ...(s.fund === undefined ? {} : { fundBalances: s.fund }) });
  const baseUrl = await fake.start();
  const connector = createCcxtConnector('bybit', { apiKey: KEY, secret: SECRET }, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: s.now - 25 * DAY_MS, settleLagMs: 1000,
    retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 10_000, maxAttempts: 3, attemptTimeoutMs: 10_000 },
  });
  t.teardown(async () => { await connector.close(); await fake.stop(); });
  return { connector, fake };
}

test('bybit: internal deposits are external flows (a processing one arrives once it succeeds, a failed one never); INTEREST rows are expenses and nothing else of the log is read', async (t) => {
  const s = scenario();
  const { connector, fake } = await open(t, s);
  const flows: CashFlow[] = [];
  let cursor: string | null = null;
  for await (const page of connector.fetchCashFlows(null)) { flows.push(...page.items); cursor = page.cursor; }
  t.deepEqual(flows.map((c) => [c.kind, c.asset, c.amount, c.occurredAt]).sort((a, b) => Number(a[3]) - Number(b[3])), [
    ['deposit', 'USDT', '1000', s.at(20)],
    ['deposit', 'USDT', '250', s.at(15)],
    ['expense', 'USDT', '0.003676', s.at(10)],
    ['expense', 'USDT', '0.00183', s.at(10) + HOUR_MS],
  ]);
  t.true(fake.requestsTo('/v5/account/transaction-log').every((r) => r.params['type'] === 'INTEREST' && r.params['accountType'] === 'UNIFIED'));
  t.true(fake.requestsTo('/v5/asset/deposit/query-internal-record').length > 0);

  s.internal[2]!.status = 2;
  const later: CashFlow[] = [];
  for await (const page of connector.fetchCashFlows(cursor)) later.push(...page.items);
  t.deepEqual(later.map((c) => [c.kind, c.asset, c.amount, c.exchangeFlowId]), [['deposit', 'USDT', '60', 'internal-deposit:1105']]);
});

test('bybit through the engine: the internal deposit is a net flow, interest is not, and the account reconciles with the venue', async (t) => {
  const s = scenario();
  // The internal deposit landed in the funding wallet; reconciliation sums both wallets.
  s.account.balances['USDT'] = '999.994494';
  s.fund = { USDT: '250' };
  const { connector } = await open(t, s);
  t.deepEqual((await connector.fetchBalances()).map((b) => [b.wallet ?? 'unified', b.asset, b.total]), [['unified', 'USDT', '999.994494'], ['funding', 'USDT', '250']]);
  const store = createAccountStore(db().pool);
  const account: AccountKey = { userUid: 'bybit-extras-1', exchange: 'bybit' };
  await db().pool.query(sql.unsafe`INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${account.userUid}, 'bybit', '\\x00'::bytea, 1)`);
  const generation = (await store.loadConnection(account))!.generation;
  const position: SyncPosition = { fillsCursor: null, cashFlowsCursor: null, engine: null };
  const outcome = await runSyncActivity({ store, aggregator: inProcessAggregator, clock: new ManualClock(s.now), costMethod: 'average' },
    { account, generation, connector, mode: 'full', position, signal: new AbortController().signal });
  t.is(outcome.cashFlowsIngested, 4);
  t.like(await store.loadReconciliation(account), { status: 'reconciled', differingAssets: 0 });
  const hours = await store.loadHourlyReturns(account, 0, s.now);
  const hourOf = (time: number) => hours.find((h) => h.hourStart === Math.floor(time / HOUR_MS) * HOUR_MS)!;
  t.is(hourOf(s.at(15)).netFlow, 250);
  // An all-USDT account: the interest hour's return is exactly the interest over the equity.
  const interest = hourOf(s.at(10));
  t.is(interest.netFlow, 0);
  t.true(Math.abs(interest.return - -0.003676 / 1250) < 1e-12, String(interest.return));
  t.true(Math.abs((outcome.snapshot?.equity ?? 0) - (1250 - 0.003676 - 0.00183)) < 1e-9);
});
