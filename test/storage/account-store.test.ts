import test from 'ava';
import { z } from 'zod';
import type { AccountKey, CashFlow, Fill } from '../../src/domain/types.js';
import { createAccountStore } from '../../src/storage/create-account-store.js';
import { createCopyIngest, type CopyIngest } from '../../src/storage/copy-ingest.js';
import { StaleGenerationError, StorageRejectedError, StorageSchemaError } from '../../src/storage/errors.js';
import type { PerformanceStats } from '../../src/domain/aggregation.js';
import { sql } from '../../src/storage/pool.js';
import { createLogger } from '../../src/config/logger.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);
let copy: CopyIngest | undefined;
test.after.always(async () => {
  await copy?.end();
});

let accounts = 0;
const newAccount = (): AccountKey => ({ userUid: `user-${++accounts}`, exchange: 'binance' });

const fill = (id: string, overrides: Partial<Fill> = {}): Fill => ({
  exchangeTradeId: id,
  symbol: 'BTC/USDT',
  baseAsset: 'BTC',
  quoteAsset: 'USDT',
  side: 'buy',
  quantity: '0.5',
  price: '43000.12',
  fee: '0.001',
  feeAsset: 'BNB',
  executedAt: Date.UTC(2026, 0, 1, 12) + Number(id.replace(/\D/gu, '') || 0) * 1000,
  ...overrides,
});

const flow = (id: string, overrides: Partial<CashFlow> = {}): CashFlow => ({
  exchangeFlowId: id,
  kind: 'deposit',
  asset: 'USDT',
  amount: '1000',
  occurredAt: Date.UTC(2026, 0, 1) + Number(id.replace(/\D/gu, '') || 0) * 1000,
  ...overrides,
});

test('a fills page inserts new fills, ignores duplicates and advances the cursor', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  t.deepEqual(await store.commitFillsPage(account, [fill('t1'), fill('t2'), fill('t2')], 'c1'), { inserted: 2 });
  t.deepEqual(await store.commitFillsPage(account, [fill('t2'), fill('t3')], 'c2'), { inserted: 1 });
  t.is(await store.loadCursor(account, 'fills'), 'c2');
  t.is(await store.loadCursor(account, 'cash_flows'), null);
  t.deepEqual((await store.loadFills(account, 0)).map((f) => f.exchangeTradeId), ['t1', 't2', 't3']);
});

test('the same trade id under another account is a different fill', async (t) => {
  const store = createAccountStore(db().pool);
  const a = newAccount();
  const b: AccountKey = { userUid: a.userUid, exchange: 'bybit' };
  t.is((await store.commitFillsPage(a, [fill('t1')], 'x')).inserted, 1);
  t.is((await store.commitFillsPage(b, [fill('t1')], 'x')).inserted, 1);
  t.is((await store.loadFills(b, 0)).length, 1);
});

test('a page with one bad row stores nothing and leaves the cursor where it was', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  await store.commitFillsPage(account, [fill('t1')], 'before');
  const error = await t.throwsAsync(
    store.commitFillsPage(account, [fill('t2'), fill('t3', { quantity: '-1' })], 'after'),
    { instanceOf: StorageRejectedError },
  );
  t.true(error!.message.includes(account.userUid));
  t.false(error!.message.includes('t3'));
  t.is(await store.loadCursor(account, 'fills'), 'before');
  t.deepEqual((await store.loadFills(account, 0)).map((f) => f.exchangeTradeId), ['t1']);
});

test('a malformed amount is refused with a clear error that does not echo it', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const error = await t.throwsAsync(store.commitFillsPage(account, [fill('t1', { price: 'canary-12345' })], 'c'), {
    instanceOf: StorageRejectedError,
  });
  t.false(error!.message.includes('canary'));
  t.is(await store.loadCursor(account, 'fills'), null);
});

test('NaN and infinite amounts are refused at write time', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  for (const bad of [{ quantity: 'NaN' }, { price: 'Infinity' }, { fee: '-Infinity' }, { fee: 'NaN' }]) {
    await t.throwsAsync(store.commitFillsPage(account, [fill('t1', bad)], 'c'), { instanceOf: StorageRejectedError });
  }
  await t.throwsAsync(store.commitCashFlowsPage(account, [flow('d1', { amount: 'NaN' })], 'c'), { instanceOf: StorageRejectedError });
  t.deepEqual(await store.loadFills(account, 0), []);
});

test('a refused write logged with its error chain shows no value from the row', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const error = await t.throwsAsync(store.commitFillsPage(account, [fill('canary-trade-id', { price: 'canary-price-777' })], 'c'));
  let line = '';
  const logger = createLogger('info', { write: (chunk: string) => { line += chunk; } });
  logger.error({ err: error }, 'sync failed');
  t.regex(line, /refused the data/u);
  t.false(line.includes('canary'));
  t.regex(line, /caused by: DatabaseErrorSummary: InvalidInputError/u);
});

test('numeric amounts round-trip exactly, without float rounding', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const amounts = { quantity: '0.000000000123456789', price: '123456789012345678901234.987654321', fee: '0.1' };
  await store.commitFillsPage(account, [fill('t1', amounts)], 'c');
  const [stored] = await store.loadFills(account, 0);
  t.is(stored?.quantity, amounts.quantity);
  t.is(stored?.price, amounts.price);
  t.is(stored?.fee, amounts.fee);
  t.deepEqual(stored, fill('t1', amounts));
});

test('fills load oldest first from a time, ties broken by trade id', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const at = Date.UTC(2026, 1, 1);
  await store.commitFillsPage(account, [
    fill('b', { executedAt: at + 1 }), fill('a', { executedAt: at + 1 }), fill('c', { executedAt: at }), fill('old', { executedAt: at - 1 }),
  ], 'c');
  t.deepEqual((await store.loadFills(account, at)).map((f) => f.exchangeTradeId), ['c', 'a', 'b']);
});

test('cash flows dedupe and advance their own cursor', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  t.is((await store.commitCashFlowsPage(account, [flow('d1'), flow('w1', { kind: 'withdrawal', amount: '0.000000000123456789' })], 'f1')).inserted, 2);
  t.is((await store.commitCashFlowsPage(account, [flow('d1'), flow('d2')], 'f2')).inserted, 1);
  t.is(await store.loadCursor(account, 'cash_flows'), 'f2');
  t.is(await store.loadCursor(account, 'fills'), null);
  const flows = await store.loadCashFlows(account, 0);
  t.deepEqual(flows.map((f) => f.exchangeFlowId), ['d1', 'w1', 'd2']);
  t.is(flows[1]?.amount, '0.000000000123456789');
});

test('a fractional or non-finite time is refused rather than rounded', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  for (const executedAt of [1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    await t.throwsAsync(store.commitFillsPage(account, [fill('t1', { executedAt })], 'c'), { instanceOf: StorageRejectedError });
  }
  t.is(await store.loadCursor(account, 'fills'), null);
});

test('an empty page still advances the cursor', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  t.deepEqual(await store.commitFillsPage(account, [], 'empty'), { inserted: 0 });
  t.is(await store.loadCursor(account, 'fills'), 'empty');
});

test('the COPY path dedupes, counts and commits the cursor like the small-page path', async (t) => {
  copy ??= createCopyIngest(db().url);
  const store = createAccountStore(db().pool, { copy, copyThreshold: 3 });
  const account = newAccount();
  const tricky = fill('t\\1\t\n', { symbol: 'A\\B/C', quantity: '0.000000000123456789' });
  t.is((await store.commitFillsPage(account, [fill('t1'), fill('t2'), fill('t1'), tricky], 'c1')).inserted, 3);
  t.is((await store.commitFillsPage(account, [fill('t2'), fill('t3'), fill('t4')], 'c2')).inserted, 2);
  t.is(await store.loadCursor(account, 'fills'), 'c2');
  const stored = await store.loadFills(account, 0);
  t.is(stored.length, 5);
  t.deepEqual(stored.find((f) => f.exchangeTradeId === tricky.exchangeTradeId), tricky);
  t.is((await store.commitCashFlowsPage(account, [flow('d1'), flow('d2'), flow('d1')], 'f1')).inserted, 2);
  t.is(await store.loadCursor(account, 'cash_flows'), 'f1');
});

test('the COPY path keeps millisecond times exact', async (t) => {
  copy ??= createCopyIngest(db().url);
  const store = createAccountStore(db().pool, { copy, copyThreshold: 1 });
  const account = newAccount();
  const times = [1735689600123, 4102444799999, 946684800001, 1, 1735689600999];
  const fills = times.map((ms, i) => fill(`ms${i}`, { executedAt: ms }));
  await store.commitFillsPage(account, fills, 'c');
  t.deepEqual((await store.loadFills(account, 0)).map((f) => f.executedAt), [...times].sort((a, b) => a - b));
  await store.commitCashFlowsPage(account, times.map((ms, i) => flow(`f${i}`, { occurredAt: ms })), 'c');
  t.deepEqual((await store.loadCashFlows(account, 0)).map((f) => f.occurredAt), [...times].sort((a, b) => a - b));
  await t.throwsAsync(store.commitFillsPage(account, [fill('bad', { executedAt: 1.5 })], 'c'), { instanceOf: StorageRejectedError });
});

test('a bad row on the COPY path stores nothing and keeps the cursor', async (t) => {
  copy ??= createCopyIngest(db().url);
  const store = createAccountStore(db().pool, { copy, copyThreshold: 1 });
  const account = newAccount();
  await store.commitFillsPage(account, [fill('t1')], 'before');
  await t.throwsAsync(store.commitFillsPage(account, [fill('t2'), fill('t3', { side: 'short' as 'buy' })], 'after'), {
    instanceOf: StorageRejectedError,
  });
  await t.throwsAsync(store.commitFillsPage(account, [fill('t4', { fee: 'not-a-number' })], 'after'), { instanceOf: StorageRejectedError });
  t.is(await store.loadCursor(account, 'fills'), 'before');
  t.is((await store.loadFills(account, 0)).length, 1);
  // The connection is usable after a failed COPY.
  t.is((await store.commitFillsPage(account, [fill('t5')], 'next')).inserted, 1);
});

test('candles are inserted once per hour (a stored one is never rewritten) and load by symbol and range', async (t) => {
  const store = createAccountStore(db().pool);
  const h = (n: number) => Date.UTC(2026, 2, 1, n);
  const candle = (symbol: string, hour: number, close: string) => ({ symbol, openTime: h(hour), open: '1', high: '2', low: '0.5', close, volume: '10.000000000001' });
  await store.upsertCandles('bybit', [candle('BTC/USDT', 0, '1.5'), candle('BTC/USDT', 1, '1.6'), candle('ETH/USDT', 0, '3')]);
  await store.upsertCandles('bybit', [candle('BTC/USDT', 1, '1.7')]);
  const loaded = await store.loadCandles('bybit', ['BTC/USDT'], h(0), h(2));
  t.deepEqual(loaded, [candle('BTC/USDT', 0, '1.5'), candle('BTC/USDT', 1, '1.6')]);
  t.deepEqual(await store.loadCandles('bybit', ['BTC/USDT', 'ETH/USDT'], h(0), h(1)), [candle('BTC/USDT', 0, '1.5'), candle('ETH/USDT', 0, '3')]);
  t.deepEqual(await store.loadCandles('binance', ['BTC/USDT'], h(0), h(2)), []);
});

test('aggregates, snapshot and engine state are saved together and read back', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const h = (n: number) => Date.UTC(2026, 3, 1, n);
  t.is(await store.loadEngineState(account), null);
  const r = (n: number, ret: number) => ({ hourStart: h(n), return: ret, cumulativeReturn: ret * 2, equityEnd: 1000.1 + n, netFlow: -0.1 });
  await store.saveAggregates(account, {
    hourlyReturns: [r(0, 0.01), r(1, -0.02)],
    snapshot: { at: h(2), balance: 10.5, equity: 1001.25 },
    engineState: { positions: { BTC: '0.5' }, lastHour: h(1) },
    performance: null,
  });
  await store.saveAggregates(account, { hourlyReturns: [r(1, 0.03)], snapshot: null, engineState: { positions: {}, lastHour: h(2) }, performance: null });
  t.deepEqual(await store.loadHourlyReturns(account, h(0), h(5)), [r(0, 0.01), r(1, 0.03)]);
  t.deepEqual(await store.loadHourlyReturns(account, h(1), h(5)), [r(1, 0.03)]);
  t.deepEqual(await store.loadSnapshots(account, h(0), h(5)), [{ at: h(2), balance: 10.5, equity: 1001.25 }]);
  t.deepEqual(await store.loadEngineState(account), { positions: {}, lastHour: h(2) });
});

const stats = (overrides: Partial<PerformanceStats> = {}): PerformanceStats => ({
  hours: 3, cumulativeReturn: 0.012345678901234567, annualizedReturn: 1.5e30, annualizedVolatility: 0.3, maxDrawdown: 0.2,
  maxDrawdownPeakHour: Date.UTC(2026, 3, 1, 1), maxDrawdownTroughHour: Date.UTC(2026, 3, 1, 2), sharpe: -4.1, sortino: 2.5e-17, calmar: 7.5e30,
  positiveHourShare: 2 / 3, bestHour: 0.1, worstHour: -0.2, totalFees: 0.75, realizedPnl: 12.5, unrealizedPnl: -3.0000000000000004,
  ...overrides,
});

test('performance stats are saved with the aggregates and read back in one row with the snapshot at computedUntil', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const h = (n: number) => Date.UTC(2026, 3, 1, n);
  t.is(await store.loadPerformanceStats(account), null);
  const first = stats();
  await store.saveAggregates(account, {
    hourlyReturns: [], snapshot: { at: h(3), balance: 10.5, equity: 1001.25 }, engineState: { v: 1 }, performance: { stats: first, computedUntil: h(3) },
  });
  // float8 returns every double exactly, nulls and ±Infinity included (a short extreme history annualizes to Infinity).
  t.deepEqual(await store.loadPerformanceStats(account), { stats: first, computedUntil: h(3), snapshot: { at: h(3), balance: 10.5, equity: 1001.25 } });
  const second = stats({ hours: 0, annualizedReturn: Infinity, calmar: -Infinity, sharpe: null, sortino: null, bestHour: null, worstHour: null, maxDrawdownPeakHour: null, maxDrawdownTroughHour: null });
  await store.saveAggregates(account, { hourlyReturns: [], snapshot: null, engineState: { v: 2 }, performance: { stats: second, computedUntil: h(5) } });
  // No snapshot was taken at h(5): the metrics come back without one rather than with an older one.
  t.deepEqual(await store.loadPerformanceStats(account), { stats: second, computedUntil: h(5), snapshot: null });
  // performance: null leaves the stored row as it is.
  await store.saveAggregates(account, { hourlyReturns: [], snapshot: null, engineState: { v: 3 }, performance: null });
  t.is((await store.loadPerformanceStats(account))?.computedUntil, h(5));
});

test('NaN in the performance stats is refused and nothing of the write is stored', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const h = (n: number) => Date.UTC(2026, 3, 2, n);
  const write = { hourlyReturns: [{ hourStart: h(0), return: 0.01, cumulativeReturn: 0.01, equityEnd: 1, netFlow: 0 }], snapshot: null, engineState: { v: 1 } };
  await t.throwsAsync(store.saveAggregates(account, { ...write, performance: { stats: stats({ sharpe: NaN }), computedUntil: h(1) } }), { instanceOf: StorageRejectedError });
  t.is(await store.loadPerformanceStats(account), null);
  t.deepEqual(await store.loadHourlyReturns(account, h(0), h(5)), []);
  t.is(await store.loadEngineState(account), null);
});

test('a write for another generation rolls back the performance stats with the returns', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  const h = (n: number) => Date.UTC(2026, 3, 3, n);
  await db().pool.query(sql.type(z.object({}))`
    INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${account.userUid}, ${account.exchange}, ${sql.binary(Buffer.from([1, 2, 3]))}, 1)`);
  const generation = (await store.loadConnection(account))!.generation;
  const write = { hourlyReturns: [{ hourStart: h(0), return: 0.01, cumulativeReturn: 0.01, equityEnd: 1, netFlow: 0 }], snapshot: { at: h(1), balance: 1, equity: 1 }, engineState: { v: 1 } };
  await store.saveAggregates(account, { ...write, performance: { stats: stats({ hours: 1 }), computedUntil: h(1) } }, generation);
  await t.throwsAsync(store.saveAggregates(account, { ...write, performance: { stats: stats({ hours: 2 }), computedUntil: h(2) } }, generation + 1), { instanceOf: StaleGenerationError });
  t.like(await store.loadPerformanceStats(account), { computedUntil: h(1), stats: { hours: 1 } });
});

test('connection status can be changed and the envelope is returned as stored', async (t) => {
  const store = createAccountStore(db().pool);
  const account = newAccount();
  t.is(await store.loadConnection(account), null);
  const envelope = Buffer.from([1, 7, ...Array.from({ length: 40 }, (_, i) => i)]);
  await db().pool.query(sql.type(z.object({}))`
    INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id) VALUES (${account.userUid}, ${account.exchange}, ${sql.binary(envelope)}, 7)`);
  await store.setConnectionStatus(account, 'failed');
  const loaded = await store.loadConnection(account);
  t.is(loaded?.status, 'failed');
  t.true(loaded?.envelope.equals(envelope));
});

test('rows that fail their schema are rejected, naming the column but not the value', async (t) => {
  const error = await t.throwsAsync(
    db().pool.any(sql.type(z.object({ side: z.enum(['buy', 'sell']), amount: z.string() }))`SELECT 'canary-side' AS side, 'x' AS amount`),
    { instanceOf: StorageSchemaError },
  );
  t.deepEqual(error!.paths, ['side']);
  t.false(error!.message.includes('canary'));
  await t.throwsAsync(db().pool.one(sql.type(z.object({ n: z.number() }))`SELECT 1.5::numeric AS n`), { instanceOf: StorageSchemaError });
});

test('int8 comes back as a number and timestamptz as epoch milliseconds', async (t) => {
  const row = await db().pool.one(sql.type(z.object({ n: z.number(), at: z.number() }))`
    SELECT 9007199254740991::int8 AS n, '2026-01-01T00:00:00.123Z'::timestamptz AS at`);
  t.deepEqual(row, { n: 9007199254740991, at: Date.UTC(2026, 0, 1, 0, 0, 0, 123) });
});
