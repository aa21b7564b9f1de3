// Venue lookback (issue 16, item 7) through the real Bitget connector (ccxt against the fake, which
// still holds fills older than the 90 days Bitget serves: the connector never asks for them), the
// real PostgreSQL store, the sync activity and the engine.
//
// Hand computation: 10,000 USDT deposited 120 days ago; 0.1 BTC bought at 50,000 (5,000 USDT)
// 100 days ago, before the cut; sold at 49,000 (4,900 USDT) 10 days ago. The venue now reports
// 9,900 USDT and no BTC, so equity is 9,900. Without the opening position the sale is an oversold
// (0.1 BTC appears at the sale) and the 5,000 the buy paid is never taken out: 14,900.
import test from 'ava';
import { runSyncActivity, type SyncPosition } from '../../src/actors/sync-activity.js';
import { inProcessAggregator } from '../../src/domain/in-process-aggregator.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createCcxtConnector } from '../../src/exchanges/ccxt/ccxt-connector.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { sql } from '../../src/storage/pool.js';
import { createBitgetFake } from '../../testkit/fakes/bitget-fake.js';
import { DAY_MS, HOUR_MS, addTransfer, type SyntheticAccount } from '../../testkit/fakes/history.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { ManualClock } from '../../testkit/support/manual-clock.js';

const db = useTestDatabase(test);
const KEY = 'HISTORYCUTKEY01';
const SECRET = 'HISTORYCUTSECRET01';
const PASS = 'HISTORYCUTPASS';

async function newAccount(): Promise<{ account: AccountKey; generation: number }> {
  const account: AccountKey = { userUid: 'history-cut-1', exchange: 'bitget' };
  await db().pool.query(sql.unsafe`INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${account.userUid}, 'bitget', '\\x00'::bytea, 1)`);
  const stored = await createAccountStore(db().pool).loadConnection(account);
  return { account, generation: stored!.generation };
}

test('a position bought before the venue lookback and sold after it: equity is 9,900 (not 14,900), the hours up to the cut are flagged venue-history-cut', async (t) => {
  const now = Date.now();
  const account: SyntheticAccount = { markets: [{ base: 'BTC', quote: 'USDT' }, { base: 'ETH', quote: 'USDT' }], fills: [], transfers: [], balances: { USDT: '9900' }, nextId: 500_001 };
  addTransfer(account, { kind: 'deposit', asset: 'USDT', amount: '10000', fee: '0', time: now - 120 * DAY_MS });
  const fill = (side: 'buy' | 'sell', price: string, time: number) => {
    account.fills.push({ id: account.nextId, orderId: account.nextId, base: 'BTC', quote: 'USDT', side, qty: '0.1', price, fee: '0', feeAsset: 'USDT', time, maker: false });
    account.nextId += 1;
  };
  fill('buy', '50000', now - 100 * DAY_MS);
  fill('sell', '49000', now - 10 * DAY_MS);
  const fake = createBitgetFake({ account, apiKey: KEY, secret: SECRET, passphrase: PASS, repeatBorderFill: false });
  const baseUrl = await fake.start();
  const connector = createCcxtConnector('bitget', { apiKey: KEY, secret: SECRET, passphrase: PASS }, {
    enclaveMode: false, baseUrl, rateLimitMs: 0, historyStartMs: now - 130 * DAY_MS, settleLagMs: 1000,
    retry: { baseDelayMs: 5, maxDelayMs: 50, budgetMs: 10_000, maxAttempts: 3, attemptTimeoutMs: 10_000 },
  });
  t.teardown(async () => { await connector.close(); await fake.stop(); });

  const store = createAccountStore(db().pool);
  const { account: key, generation } = await newAccount();
  const clock = new ManualClock(now);
  const position: SyncPosition = { fillsCursor: null, cashFlowsCursor: null, engine: null };
  const outcome = await runSyncActivity({ store, aggregator: inProcessAggregator, clock, costMethod: 'average' },
    { account: key, generation, connector, mode: 'full', position, signal: new AbortController().signal });

  // The connector saw only the sale (the buy is older than Bitget serves).
  t.is(outcome.fillsIngested, 1);
  const cut = position.engine?.coverage?.fills;
  t.true(typeof cut === 'number' && cut > now - 91 * DAY_MS && cut < now - 89 * DAY_MS);
  // The opening position at the cut: the 0.1 BTC held then and the 5,000 USDT the buy paid.
  const opening = (await store.loadCashFlows(key, 0)).filter((c) => c.exchangeFlowId.startsWith('history-cut:'));
  t.deepEqual(opening.map((c) => [c.kind, c.asset, Number(c.amount), c.occurredAt]), [['adjustment-in', 'BTC', 0.1, cut], ['adjustment-out', 'USDT', 5000, cut]]);

  t.is(outcome.gaps.filter((g) => g.kind === 'oversold').length, 0);
  t.is(outcome.gaps.filter((g) => g.kind === 'unreconciled').length, 0);
  t.true(Math.abs((outcome.snapshot?.equity ?? 0) - 9900) < 1e-6, `equity ${String(outcome.snapshot?.equity)}`);
  t.like(await store.loadReconciliation(key), { status: 'reconciled', explainedShare: 1 });

  const hours = await store.loadHourlyReturns(key, 0, now);
  const cutHour = Math.floor(cut! / HOUR_MS) * HOUR_MS;
  const flagged = (h: { flags?: readonly string[] }): boolean => h.flags?.includes('venue-history-cut') === true;
  t.true(hours.length > 0);
  t.true(hours.filter((h) => h.hourStart <= cutHour).every(flagged));
  t.false(hours.filter((h) => h.hourStart > cutHour).some(flagged));
  // The opening is an external flow in its hour, and the hour's return is not the flow.
  const atCut = hours.find((h) => h.hourStart === cutHour);
  t.truthy(atCut);
  t.true(Math.abs(atCut!.return) < 0.02);
  // Before the cut equity is the 10,000 deposited; from it, 5,000 USDT and the opening 0.1 BTC at
  // the fake's mark (60,000 within ±1.1 %, testkit/fakes/history.ts candleAt): never the 14,900 of
  // a buy's cost counted twice. (The mark's wave follows the wall clock, so the bound keeps its width.)
  const ceiling = 5_000 + 0.1 * 60_000 * 1.012;
  t.true(hours.every((h) => h.equityEnd < Math.max(ceiling, 10_000 + 1e-6)), JSON.stringify(hours.filter((h) => h.equityEnd >= ceiling).slice(0, 3).map((h) => [h.hourStart - cutHour, h.equityEnd])));
});
