// Alpaca records that went missing or were mispriced, through the real connector (the SDK's
// generated API classes against a fake speaking Alpaca's wire format) and the engine.
import test from 'ava';
import { createAlpacaConnector, type AlpacaConnectorOptions } from '../../src/exchanges/alpaca/alpaca-connector.js';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import type { CashFlow, Fill } from '../../src/domain/types.js';
import type { Page } from '../../src/exchanges/connector.js';
import { alpacaActivityId, startAlpacaFake, type AlpacaBarRow, type AlpacaCashRow, type AlpacaFillRow } from '../../testkit/fakes/alpaca-fake.js';

const KEY = 'AKREALACCOUNTS000001';
const SECRET = 'real-accounts-secret-0000000000000000';
const credential = { apiKey: KEY, secret: SECRET };
const fastRetry = { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000, budgetMs: 10_000, maxAttempts: 3 };
const T0 = Date.UTC(2025, 0, 2, 15);
const H = 3_600_000;

const options = (url: string, extra: Partial<AlpacaConnectorOptions> = {}): AlpacaConnectorOptions => ({ enclaveMode: false, baseUrl: url, retry: fastRetry, ...extra });

async function collect<T>(pages: AsyncIterable<Page<T>>): Promise<{ items: T[]; cursor: string | null }> {
  const items: T[] = [];
  let cursor: string | null = null;
  for await (const page of pages) { items.push(...page.items); cursor = page.cursor; }
  return { items, cursor };
}

const bar = (ms: number, close: string): AlpacaBarRow => ({ t: new Date(ms).toISOString().replace('.000', ''), o: close, h: close, l: close, c: close, v: '3' });
let seq = 0;
const cryptoFill = (ms: number): AlpacaFillRow => ({
  id: alpacaActivityId(ms, ++seq), activity_type: 'FILL', transaction_time: new Date(ms).toISOString(), type: 'fill', price: '60000', qty: '0.01',
  side: 'buy', symbol: 'BTC/USD', leaves_qty: '0', order_id: 'c1f0e9a4-0000-4000-8000-000000000001', cum_qty: '0.01', order_status: 'filled',
});
const activity = (type: string, ms: number, netAmount: string, extra: Partial<AlpacaCashRow> = {}): AlpacaCashRow =>
  ({ id: alpacaActivityId(ms, ++seq), activity_type: type, date: new Date(ms).toISOString().slice(0, 10), net_amount: netAmount, description: '', status: 'executed', ...extra });

test('crypto fills are valued from the crypto bars endpoint, never from the stock ticker of the same name', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, {
    fills: [cryptoFill(T0 + 60_000)],
    // BTC is also a stock ticker (an ETF): its stock bars are a plausible, wrong price.
    bars: { BTC: [bar(T0, '45.1'), bar(T0 + H, '45.2')] },
    cryptoBars: { 'BTC/USD': [bar(T0, '60000'), bar(T0 + H, '61000')] },
  });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const { cursor } = await collect<Fill>(connector.fetchFills(null));
  const candles = await connector.fetchHourlyCandles('BTC/USD', T0, T0 + 2 * H);
  t.deepEqual(candles.map((c) => c.close), ['60000', '61000']);
  t.false(fake.server.requests.some((r) => r.path.startsWith('/v2/stocks/BTC')));
  t.true(fake.server.requests.some((r) => r.path === '/v1beta3/crypto/us/bars' && r.query.get('symbols') === 'BTC/USD'));
  // A later sync's connector knows the class from the fills cursor, before any new fill.
  const next = createAlpacaConnector(credential, options(fake.url));
  await collect<Fill>(next.fetchFills(cursor));
  t.deepEqual((await next.fetchHourlyCandles('BTC/USD', T0, T0 + 2 * H)).map((c) => c.close), ['60000', '61000']);
  // A stock keeps its stock bars.
  fake.state.bars.AAPL = [bar(T0, '185.5')];
  t.deepEqual((await next.fetchHourlyCandles('AAPL/USD', T0, T0 + H)).map((c) => c.close), ['185.5']);
});

test('dividends, interest, fees, journals, ACATS and splits are read as events with their rule', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, {
    cash: [
      activity('CSD', T0, '10000'),
      activity('DIV', T0 + 24 * H, '1.02', { symbol: 'T', qty: '2', per_share_amount: '0.51' }),
      activity('DIVNRA', T0 + 24 * H, '-0.31', { symbol: 'T', qty: '2' }),
      activity('INT', T0 + 25 * H, '0.45'),
      activity('FEE', T0 + 26 * H, '-0.02'),
      activity('JNLC', T0 + 27 * H, '-500'),
      activity('ACATS', T0 + 28 * H, '0', { symbol: 'MSFT', qty: '5' }),
      activity('SPLIT', T0 + 29 * H, '0', { symbol: 'AAPL', qty: '90' }),
      activity('CFEE', T0 + 30 * H, '0', { symbol: 'BTCUSD', qty: '-0.0001' }),
      activity('DIV', T0 + 31 * H, '5', { symbol: 'T', status: 'canceled' }),
    ],
  });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const { items } = await collect<CashFlow>(connector.fetchCashFlows(null));
  t.deepEqual(items.map((c) => [c.kind, c.asset, c.amount]), [
    ['deposit', 'USD', '10000'], ['income', 'USD', '1.02'], ['expense', 'USD', '0.31'], ['income', 'USD', '0.45'], ['expense', 'USD', '0.02'],
    ['withdrawal', 'USD', '500'], ['deposit', 'MSFT', '5'], ['split-in', 'AAPL', '90'], ['expense', 'BTC', '0.0001'],
  ]);
  const types = new Set((fake.server.requests.find((r) => r.path === '/v2/account/activities')?.query.get('activity_types') ?? '').split(','));
  for (const type of ['DIV', 'INT', 'FEE', 'CFEE', 'JNLC', 'JNLS', 'ACATC', 'ACATS', 'SPLIT', 'MA']) t.true(types.has(type), type);
  const cash = items.filter((c) => c.asset === 'USD');
  const r = aggregate({ baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills: [], cashFlows: cash, candles: [], untilHour: T0 + 40 * H });
  t.true(Math.abs(r.realizedPnl - (1.02 - 0.31 + 0.45 - 0.02)) < 1e-9);
  t.is(r.hourlyReturns.reduce((sum, h) => sum + h.netFlow, 0), 9500);
});

test('crypto positions are balances of the coin, and mark it as crypto', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, {
    positions: [{ symbol: 'ETHUSD', qty: '1.5', asset_class: 'crypto' }, { symbol: 'AAPL', qty: '3' }],
    cryptoBars: { 'ETH/USD': [bar(T0, '3300')] },
    bars: { ETH: [bar(T0, '17.5')] },
  });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const balances = await connector.fetchBalances();
  t.deepEqual(balances.slice(1), [{ asset: 'ETH', total: '1.5' }, { asset: 'AAPL', total: '3' }]);
  t.deepEqual((await connector.fetchHourlyCandles('ETH/USD', T0, T0 + H)).map((c) => c.close), ['3300']);
});

test('minute marks come from the 1Min bars: stock bars for a stock, crypto bars for a crypto asset; no bar in that minute is null', async (t) => {
  const m = T0 + 90 * 60_000;
  // Body shapes: docs.alpaca.markets "Historical bars" (stock: {"bars":[{"t","o","h","l","c","v","n","vw"}]}; crypto: keyed by pair).
  const fake = await startAlpacaFake(KEY, SECRET, {
    positions: [{ symbol: 'ETHUSD', qty: '1.5', asset_class: 'crypto' }, { symbol: 'AAPL', qty: '3' }],
    minuteBars: { AAPL: [bar(m, '187.25')], ETH: [bar(m, '17.5')] },
    minuteCryptoBars: { 'ETH/USD': [bar(m, '3301.5')] },
  });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  await connector.fetchBalances();
  t.like(await connector.fetchMinuteCandle!('AAPL/USD', m), { symbol: 'AAPL/USD', openTime: m, open: '187.25' });
  // ETH is also a stock ticker there: the crypto endpoint must answer, not the stock one.
  t.like(await connector.fetchMinuteCandle!('ETH/USD', m), { symbol: 'ETH/USD', openTime: m, open: '3301.5' });
  t.is(await connector.fetchMinuteCandle!('AAPL/USD', m + 60_000), null);
  const stock = fake.server.requests.find((r) => r.path === '/v2/stocks/AAPL/bars');
  t.is(stock?.query.get('timeframe'), '1Min');
  t.is(stock?.query.get('limit'), '1');
  t.is(fake.server.requests.find((r) => r.path === '/v1beta3/crypto/us/bars')?.query.get('timeframe'), '1Min');
});
