import test from 'ava';
import { Writable } from 'node:stream';
import { trading } from '@alpacahq/alpaca-trade-api';
import { ALPACA_CASH_ACTIVITY_TYPES, createAlpacaConnector, classifyAlpacaError, type AlpacaConnectorOptions } from '../../src/exchanges/alpaca/alpaca-connector.js';
import { VenueError } from '../../src/exchanges/errors.js';
import { checkReadOnlyPermissions } from '../../src/domain/permissions.js';
import { VenueConfigError } from '../../src/exchanges/errors.js';
import { createLogger } from '../../src/config/logger.js';
import type { Fill, CashFlow } from '../../src/domain/types.js';
import type { Page } from '../../src/exchanges/connector.js';
import { alpaca429, alpaca500, alpacaActivityId, makeAlpacaFills, startAlpacaFake } from '../../testkit/fakes/alpaca-fake.js';

const KEY = 'AKCANARYKEY0000000001';
const SECRET = 'canary-secret-5f0c9e1d2b3a4c5d6e7f';
const credential = { apiKey: KEY, secret: SECRET };
const fastRetry = { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000, budgetMs: 10_000, maxAttempts: 4 };
const T0 = Date.UTC(2025, 0, 2, 14, 30);

function options(url: string, extra: Partial<AlpacaConnectorOptions> = {}): AlpacaConnectorOptions {
  return { enclaveMode: false, baseUrl: url, retry: fastRetry, ...extra };
}

async function collect<T>(pages: AsyncIterable<Page<T>>): Promise<{ items: T[]; pages: Page<T>[] }> {
  const all: Page<T>[] = [];
  for await (const page of pages) all.push(page);
  return { items: all.flatMap((p) => [...p.items]), pages: all };
}

test('10,000 fills over many pages, with a fill repeated at every page border, arrive as exactly 10,000 unique fills', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(10_000, T0), repeatAtBorder: true });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const { items, pages } = await collect<Fill>(connector.fetchFills(null));
  t.is(items.length, 10_000);
  t.is(new Set(items.map((f) => f.exchangeTradeId)).size, 10_000);
  t.true(pages.length > 100, 'walked far past the first page');
  const fillRequests = fake.server.requests.filter((r) => r.path === '/v2/account/activities/FILL');
  t.true(fillRequests.every((r) => r.query.get('page_size') === '100' && r.query.get('direction') === 'asc'));
  t.deepEqual(items.map((f) => f.executedAt), [...items.map((f) => f.executedAt)].sort((a, b) => a - b));
  const first = items[0];
  t.like(first, { symbol: 'AAPL/USD', baseAsset: 'AAPL', quoteAsset: 'USD', side: 'buy', quantity: '1', price: '100', fee: '0', feeAsset: 'USD', executedAt: T0 });
});

test('a sync from a saved cursor fetches only the fills that are new', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(250, T0) });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const first = await collect<Fill>(connector.fetchFills(null));
  t.is(first.items.length, 250);
  const saved = first.pages.at(-1)?.cursor;
  if (saved === undefined) return t.fail('no cursor');
  t.deepEqual(JSON.parse(saved), { v: 1, lastId: fake.state.fills[249]?.id });

  fake.state.fills.push(...makeAlpacaFills(30, T0 + 10_000_000, 250));
  fake.server.requests.length = 0;
  const second = await collect<Fill>(connector.fetchFills(saved));
  t.is(second.items.length, 30);
  t.deepEqual(second.items.map((f) => f.exchangeTradeId), fake.state.fills.slice(250).map((f) => f.id));
  t.is(fake.server.requests.length, 1, 'one short page, nothing re-read');
  t.is(fake.server.requests[0]?.query.get('page_token'), fake.state.fills[249]?.id);

  fake.server.requests.length = 0;
  const third = await collect<Fill>(connector.fetchFills(second.pages.at(-1)?.cursor ?? null));
  t.is(third.items.length, 0);
});

test('a repeated border row at the saved cursor is not delivered again', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(5, T0), repeatAtBorder: true });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const first = await collect<Fill>(connector.fetchFills(null));
  fake.state.fills.push(...makeAlpacaFills(3, T0 + 60_000, 5));
  const second = await collect<Fill>(connector.fetchFills(first.pages.at(-1)?.cursor ?? null));
  t.deepEqual(second.items.map((f) => f.exchangeTradeId), fake.state.fills.slice(5).map((f) => f.id));
});

test('deposits and withdrawals arrive as cash flows, cancelled ones are skipped', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, {
    fills: makeAlpacaFills(3, T0),
    cash: [
      { id: alpacaActivityId(T0, 1), activity_type: 'CSD', date: '2025-01-02', net_amount: '25000', description: 'ACH', status: 'executed' },
      { id: alpacaActivityId(T0 + 86_400_000, 2), activity_type: 'CSW', date: '2025-01-03', net_amount: '-1250.75', description: 'ACH', status: 'executed' },
      { id: alpacaActivityId(T0 + 2 * 86_400_000, 3), activity_type: 'CSD', date: '2025-01-04', net_amount: '99', description: 'ACH', status: 'canceled' },
    ],
  });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const { items, pages } = await collect<CashFlow>(connector.fetchCashFlows(null));
  t.deepEqual(items.map(({ kind, asset, amount, occurredAt }) => ({ kind, asset, amount, occurredAt })), [
    { kind: 'deposit', asset: 'USD', amount: '25000', occurredAt: Date.UTC(2025, 0, 2) },
    { kind: 'withdrawal', asset: 'USD', amount: '1250.75', occurredAt: Date.UTC(2025, 0, 3) },
  ]);
  // Every non-trade type the connector reads (issue 16), transfers first.
  t.is(fake.server.requests[0]?.query.get('activity_types'), ALPACA_CASH_ACTIVITY_TYPES.join(','));
  t.deepEqual(JSON.parse(pages.at(-1)?.cursor ?? '{}'), { v: 1, lastId: fake.state.cash[2]?.id });
});

test('balances are the account cash and open positions, as exact decimal strings', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { account: { cash: '10000.123456789012345678', equity: '12000.5', currency: 'USD' }, positions: [{ symbol: 'AAPL', qty: '12.5' }] });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  t.deepEqual(await connector.fetchBalances(), [{ asset: 'USD', total: '10000.123456789012345678' }, { asset: 'AAPL', total: '12.5' }]);
  t.deepEqual(await connector.fetchAccountSummary(), { currency: 'USD', cash: '10000.123456789012345678', equity: '12000.5' });
});

test('a failed balance fetch throws instead of reporting zero', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET);
  t.teardown(() => fake.close());
  fake.server.inject('/v2/account', alpaca500(), 10);
  const connector = createAlpacaConnector(credential, options(fake.url));
  const error = await t.throwsAsync(connector.fetchBalances(), { instanceOf: VenueError });
  t.is(error.kind, 'unavailable');
  t.is(error.detail.status, 500);
});

test('hourly bars become candles with the exact number text the venue sent', async (t) => {
  const h = Date.UTC(2025, 0, 2, 14);
  const bars = Array.from({ length: 30 }, (_, i) => ({ t: new Date(h + i * 3_600_000).toISOString().replace('.000', ''), o: '187.10', h: '188.123456789012345678', l: '186.5', c: `187.${i + 10}`, v: '12345' }));
  const fake = await startAlpacaFake(KEY, SECRET, { bars: { AAPL: bars } });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const candles = await connector.fetchHourlyCandles('AAPL/USD', h + 3_600_000, h + 11 * 3_600_000);
  t.is(candles.length, 10);
  t.deepEqual(candles[0], { symbol: 'AAPL/USD', openTime: h + 3_600_000, open: '187.1', high: '188.123456789012345678', low: '186.5', close: '187.11', volume: '12345' });
  const request = fake.server.requests.find((r) => r.path === '/v2/stocks/AAPL/bars');
  t.is(request?.query.get('timeframe'), '1Hour');
  t.is(request?.query.get('feed'), 'iex');
});

test('a 429 with Retry-After is retried, and the SDK error carries the Retry-After for the policy', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(3, T0) });
  t.teardown(() => fake.close());
  fake.server.inject('/v2/account/activities/FILL', alpaca429(0));
  const connector = createAlpacaConnector(credential, options(fake.url));
  const { items } = await collect<Fill>(connector.fetchFills(null));
  t.is(items.length, 3);
  t.is(fake.server.requests.length, 2);

  fake.server.inject('/v2/account', alpaca429(7));
  const api = new trading.AccountsApi(new trading.Configuration({ basePath: fake.url, keyId: KEY, secret: SECRET }));
  const sdkError = await t.throwsAsync(api.getAccount());
  t.like(classifyAlpacaError(sdkError), { kind: 'rate-limited', retryable: true, status: 429, retryAfterMs: 7_000 });
});

test('a persistent 429 is reported as rate-limited after the bounded attempts', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(3, T0) });
  t.teardown(() => fake.close());
  fake.server.inject('/v2/account/activities/FILL', alpaca429(0), 10);
  const connector = createAlpacaConnector(credential, options(fake.url));
  const error = await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError });
  t.like(error, { kind: 'rate-limited', exchange: 'alpaca' });
  t.is(error.detail.attempts, 4);
  t.is(fake.server.requests.length, 4);
});

test('5xx, a reset connection, a hanging request and a malformed body are each retried', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(150, T0) });
  t.teardown(() => fake.close());
  fake.server.inject('/v2/account/activities/FILL', alpaca500());
  fake.server.inject('/v2/account/activities/FILL', { kind: 'reset' });
  fake.server.inject('/v2/account/activities/FILL', { kind: 'hang' });
  fake.server.inject('/v2/account/activities/FILL', { kind: 'malformed' });
  const connector = createAlpacaConnector(credential, options(fake.url, { retry: { ...fastRetry, maxAttempts: 6, attemptTimeoutMs: 400 } }));
  const { items } = await collect<Fill>(connector.fetchFills(null));
  t.is(items.length, 150);
  t.is(fake.server.requests.length, 4 + 2);
});

test('faults that never clear are reported with their cause', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(3, T0) });
  t.teardown(() => fake.close());
  const impatient = createAlpacaConnector(credential, options(fake.url, { retry: { ...fastRetry, maxAttempts: 2, attemptTimeoutMs: 150 } }));
  fake.server.inject('/v2/account/activities/FILL', { kind: 'hang' }, 2);
  t.like(await t.throwsAsync(collect(impatient.fetchFills(null)), { instanceOf: VenueError }), { kind: 'timeout' });
  const connector = createAlpacaConnector(credential, options(fake.url, { retry: { ...fastRetry, maxAttempts: 2 } }));
  fake.server.inject('/v2/account/activities/FILL', { kind: 'malformed' }, 2);
  t.like(await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError }), { kind: 'bad-response' });
  fake.server.inject('/v2/account/activities/FILL', alpaca500(), 2);
  t.like(await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError }), { kind: 'unavailable' });
});

test('a rejected key is an auth error and is not retried', async (t) => {
  const fake = await startAlpacaFake(KEY, 'another-secret');
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const error = await t.throwsAsync(connector.fetchBalances(), { instanceOf: VenueError });
  t.like(error, { kind: 'auth' });
  t.is(error.detail.status, 401);
  t.is(fake.server.requests.length, 1);
});

test('an unreadable cursor is refused rather than resyncing from scratch', async (t) => {
  const connector = createAlpacaConnector(credential, options('http://127.0.0.1:9'));
  const error = await t.throwsAsync(collect(connector.fetchFills('{"v":2}')), { instanceOf: VenueError });
  t.is(error.kind, 'rejected');
});

test('enclave mode refuses a non-HTTPS venue URL and any base-URL override', (t) => {
  const refused = t.throws(() => createAlpacaConnector(credential, { enclaveMode: true, baseUrl: 'http://127.0.0.1:8080' }), { instanceOf: VenueConfigError });
  t.regex(refused.message, /non-HTTPS venue URL refused in enclave mode/u);
  t.throws(() => createAlpacaConnector(credential, { enclaveMode: true, baseUrl: 'https://proxy.example' }), { instanceOf: VenueConfigError, message: /override refused/u });
  t.notThrows(() => createAlpacaConnector(credential, { enclaveMode: true }));
  t.notThrows(() => createAlpacaConnector(credential, { enclaveMode: false, baseUrl: 'http://127.0.0.1:8080' }));
});

test('the key and secret appear in no error or log line, whatever fails', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { fills: makeAlpacaFills(3, T0) });
  t.teardown(() => fake.close());
  const lines: string[] = [];
  const logger = createLogger('trace', new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString('utf8')); done(); } }));
  const connector = createAlpacaConnector(credential, options(fake.url, { retry: { ...fastRetry, maxAttempts: 1, attemptTimeoutMs: 150 } }));
  const errors: unknown[] = [];
  for (const fault of [alpaca500(), alpaca429(1), { kind: 'hang' } as const, { kind: 'malformed' } as const, { kind: 'reset' } as const]) {
    fake.server.inject('/v2/', fault);
    errors.push(await connector.fetchBalances().catch((e: unknown) => e));
  }
  const wrong = createAlpacaConnector({ apiKey: KEY, secret: `${SECRET}-wrong` }, options(fake.url));
  errors.push(await collect(wrong.fetchFills(null)).catch((e: unknown) => e));
  for (const error of errors) {
    t.true(error instanceof VenueError);
    logger.error({ err: error }, 'alpaca sync failed');
    const text = [String(error), (error as Error).stack ?? '', JSON.stringify(error), JSON.stringify(Object.entries(error as object))].join('\n');
    t.false(text.includes(KEY) || text.includes(SECRET), 'no canary in the error');
  }
  t.true(lines.length >= errors.length);
  t.false(lines.some((line) => line.includes(KEY) || line.includes(SECRET)), 'no canary in any log line');
  t.true(fake.server.requests.some((r) => r.headers['apca-api-secret-key'] === SECRET), 'the canary did reach the venue');
});

test('an Alpaca key always reports trading rights (marked alwaysTrades), refused without the per-account opt-in', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { account: { cash: '100', equity: '100', currency: 'USD', multiplier: '4', options_trading_level: 2 } });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  const permissions = await connector.fetchPermissions!();
  t.deepEqual(permissions, { reported: true, rights: ['read', 'spot_trade', 'margin_trade', 'options_trade'], alwaysTrades: true });
  t.false(checkReadOnlyPermissions(permissions).ok);
  t.true(checkReadOnlyPermissions(permissions, { acceptTradingRights: true }).ok);
});

test('a cash Alpaca account whose trading is blocked still counts as able to trade', async (t) => {
  const fake = await startAlpacaFake(KEY, SECRET, { account: { cash: '100', equity: '100', currency: 'USD', trading_blocked: true } });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector(credential, options(fake.url));
  t.deepEqual(await connector.fetchPermissions!(), { reported: true, rights: ['read', 'spot_trade'], alwaysTrades: true });
});
