import test from 'ava';
// Serial: the 10,000-execution statement parses for seconds and would starve other tests' timers.
import { Writable } from 'node:stream';
import { createIbkrFlexConnector, deriveHourlyCandles, type IbkrFlexConnectorOptions } from '../../src/exchanges/ibkr/flex-connector.js';
import { parseFlexDateTime } from '../../src/exchanges/ibkr/flex-statement.js';
import { VenueError } from '../../src/exchanges/errors.js';
import { VenueConfigError } from '../../src/exchanges/errors.js';
import { createLogger } from '../../src/config/logger.js';
import type { CashFlow, Fill } from '../../src/domain/types.js';
import type { Page } from '../../src/exchanges/connector.js';
import { flexCash, flexTrade, makeFlexTrades, startFlexFake } from '../../testkit/fakes/flex-fake.js';

const TOKEN = '123456789012345678901234-canary-token';
const QUERY = '987654-canary-query';
const credential = { apiKey: TOKEN, secret: QUERY };
const fastRetry = { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000, budgetMs: 10_000, maxAttempts: 4 };
const ET = 5 * 3_600_000; // January: UTC-5

function options(url: string, extra: Partial<IbkrFlexConnectorOptions> = {}): IbkrFlexConnectorOptions {
  return { enclaveMode: false, baseUrl: url, retry: fastRetry, pollIntervalMs: 5, throttleBackoffMs: 5, statementTtlMs: 0, ...extra };
}

async function collect<T>(pages: AsyncIterable<Page<T>>): Promise<{ items: T[]; pages: Page<T>[] }> {
  const all: Page<T>[] = [];
  for await (const page of pages) all.push(page);
  return { items: all.flatMap((p) => [...p.items]), pages: all };
}

const getStatements = (fake: { server: { requests: { path: string }[] } }) => fake.server.requests.filter((r) => r.path.endsWith('/GetStatement')).length;
const sendRequests = (fake: { server: { requests: { path: string }[] } }) => fake.server.requests.filter((r) => r.path.endsWith('/SendRequest')).length;

test.serial('10,000 executions over many pages, with one repeated at a page border, arrive as exactly 10,000 unique fills', async (t) => {
  const trades = makeFlexTrades(10_000);
  t.timeout(60_000);
  trades.splice(1000, 0, trades[999] ?? trades[0]!);
  const fake = await startFlexFake(TOKEN, QUERY, { trades });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url, { pageSize: 1000, retry: { ...fastRetry, attemptTimeoutMs: 30_000, budgetMs: 60_000 } }));
  const { items, pages } = await collect<Fill>(connector.fetchFills(null));
  t.is(items.length, 10_000);
  t.is(new Set(items.map((f) => f.exchangeTradeId)).size, 10_000);
  t.is(pages.length, 10);
  t.like(items[0], { exchangeTradeId: '1', symbol: 'AAPL/USD', side: 'buy', quantity: '10', price: '180.25', fee: '1', feeAsset: 'USD', executedAt: Date.UTC(2025, 0, 2, 9, 30) + ET });
  t.like(items[1], { side: 'sell', quantity: '10' });
});

test.serial('a sync from a saved cursor fetches only executions that are new, including one in the same second', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, { trades: makeFlexTrades(300) });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url, { pageSize: 128 }));
  const first = await collect<Fill>(connector.fetchFills(null));
  t.is(first.items.length, 300);
  const saved = first.pages.at(-1)?.cursor ?? null;
  t.deepEqual(JSON.parse(saved ?? '{}'), { v: 1, t: first.items[299]?.executedAt, ids: ['300'] });

  const lastTime = fake.state.trades[299]?.dateTime ?? '';
  fake.state.trades.push(flexTrade({ tradeID: '5000', dateTime: lastTime }), ...makeFlexTrades(20, 301).map((r) => ({ ...r, dateTime: (r.dateTime ?? '').replace('20250102', '20250108') })));
  const second = await collect<Fill>(connector.fetchFills(saved));
  t.deepEqual(second.items.map((f) => f.exchangeTradeId), ['5000', ...Array.from({ length: 20 }, (_, i) => String(301 + i))]);
  const third = await collect<Fill>(connector.fetchFills(second.pages.at(-1)?.cursor ?? null));
  t.is(third.items.length, 0);
});

test.serial('the Flex flow survives three 1019 answers while the statement is generated', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, { trades: makeFlexTrades(5) });
  t.teardown(() => fake.close());
  fake.state.script.push(...[1, 2, 3].map(() => ({ endpoint: 'GetStatement' as const, code: 1019 })));
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const { items } = await collect<Fill>(connector.fetchFills(null));
  t.is(items.length, 5);
  t.is(sendRequests(fake), 1);
  t.is(getStatements(fake), 4);
  const polls = fake.server.requests.filter((r) => r.path.endsWith('/GetStatement'));
  t.true(polls.every((r) => r.query.get('t') === TOKEN && r.query.get('v') === '3' && /^\d{10}$/u.test(r.query.get('q') ?? '')));
});

test.serial('a statement still in progress after the poll budget is reported as a timeout', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY);
  t.teardown(() => fake.close());
  fake.state.script.push(...Array.from({ length: 50 }, () => ({ endpoint: 'GetStatement' as const, code: 1019 })));
  const connector = createIbkrFlexConnector(credential, options(fake.url, { pollIntervalMs: 10, maxPollMs: 60 }));
  const error = await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError });
  t.like(error, { kind: 'timeout', exchange: 'ibkr' });
  t.regex(error.message, /Flex 1019/u);
});

test.serial('1018 (too many requests) backs off and retries; when it persists it is reported as rate-limited', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, { trades: makeFlexTrades(2) });
  t.teardown(() => fake.close());
  fake.state.script.push({ endpoint: 'SendRequest', code: 1018 }, { endpoint: 'SendRequest', code: 1018 });
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  t.is((await collect<Fill>(connector.fetchFills(null))).items.length, 2);
  t.is(sendRequests(fake), 3);

  fake.state.script.push(...Array.from({ length: 4 }, () => ({ endpoint: 'GetStatement' as const, code: 1018 })));
  const error = await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError });
  t.like(error, { kind: 'rate-limited' });
  t.regex(error.message, /Flex 1018/u);
});

test.serial('HTTP 429 with Retry-After, 5xx, a reset, a hanging request and a malformed body are each retried', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, { trades: makeFlexTrades(3) });
  t.teardown(() => fake.close());
  fake.server.inject('/SendRequest', { kind: 'status', status: 429, body: '<html>Too Many Requests</html>', headers: { 'retry-after': '0' } });
  fake.server.inject('/SendRequest', { kind: 'status', status: 503, body: '<html>Service Unavailable</html>' });
  fake.server.inject('/GetStatement', { kind: 'reset' });
  fake.server.inject('/GetStatement', { kind: 'hang' });
  fake.server.inject('/GetStatement', { kind: 'malformed', body: '<FlexQueryResponse queryName="x"><FlexStatements count="1"><FlexStatement acc' });
  const connector = createIbkrFlexConnector(credential, options(fake.url, { retry: { ...fastRetry, attemptTimeoutMs: 400 } }));
  t.is((await collect<Fill>(connector.fetchFills(null))).items.length, 3);
  t.is(sendRequests(fake), 3);
  t.is(getStatements(fake), 4);
});

test.serial('faults that never clear are reported with their cause; a bad token is not retried', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY);
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url, { retry: { ...fastRetry, maxAttempts: 2 } }));
  fake.server.inject('/SendRequest', { kind: 'status', status: 500, body: '' }, 2);
  t.like(await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError }), { kind: 'unavailable' });
  const impatient = createIbkrFlexConnector(credential, options(fake.url, { retry: { ...fastRetry, maxAttempts: 2, attemptTimeoutMs: 150 } }));
  fake.server.inject('/SendRequest', { kind: 'hang' }, 2);
  t.like(await t.throwsAsync(collect(impatient.fetchFills(null)), { instanceOf: VenueError }), { kind: 'timeout' });
  fake.server.inject('/SendRequest', { kind: 'malformed', body: '<FlexStatementResponse><Status>Succ' }, 2);
  t.like(await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError }), { kind: 'bad-response' });

  fake.server.requests.length = 0;
  const wrongToken = createIbkrFlexConnector({ apiKey: 'not-the-token', secret: QUERY }, options(fake.url));
  const auth = await t.throwsAsync(collect(wrongToken.fetchFills(null)), { instanceOf: VenueError });
  t.like(auth, { kind: 'auth' });
  t.regex(auth.message, /Flex 1015/u);
  t.is(fake.server.requests.length, 1);
  const wrongQuery = createIbkrFlexConnector({ apiKey: TOKEN, secret: '1' }, options(fake.url));
  t.like(await t.throwsAsync(collect(wrongQuery.fetchFills(null)), { instanceOf: VenueError }), { kind: 'rejected' });
});

test.serial('amounts in other currencies are converted with fxRateToBase; times are US/Eastern', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    trades: [
      flexTrade({ tradeID: '77', dateTime: '20250715;093000', currency: 'EUR', fxRateToBase: '1.0852', symbol: 'SAP', tradePrice: '200.5', quantity: '-3', buySell: 'SELL', ibCommission: '-2.5', ibCommissionCurrency: 'EUR' }),
      flexTrade({ tradeID: '78', dateTime: '20250716;100000', assetCategory: 'OPT', symbol: 'AAPL  250815C00200000', multiplier: '100', quantity: '2', tradePrice: '1.25', ibCommission: '-1.3', ibCommissionCurrency: 'USD' }),
      flexTrade({ tradeID: '79', dateTime: '20250716;100500', levelOfDetail: 'ORDER' }),
    ],
    cashTransactions: [
      flexCash({ transactionID: '501', dateTime: '20250102;120000', amount: '10000', currency: 'EUR', fxRateToBase: '1.03' }),
      flexCash({ transactionID: '502', dateTime: '20250103', amount: '-2500.5' }),
      flexCash({ transactionID: '503', dateTime: '20250104', amount: '12.34', type: 'Dividends' }),
    ],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const fills = (await collect<Fill>(connector.fetchFills(null))).items;
  t.deepEqual(fills, [
    { exchangeTradeId: '77', symbol: 'SAP/USD', baseAsset: 'SAP', quoteAsset: 'USD', side: 'sell', quantity: '3', price: '217.5826', fee: '2.713', feeAsset: 'USD', executedAt: Date.UTC(2025, 6, 15, 13, 30) },
    { exchangeTradeId: '78', symbol: 'AAPL  250815C00200000/USD', baseAsset: 'AAPL  250815C00200000', quoteAsset: 'USD', side: 'buy', quantity: '200', price: '1.25', fee: '1.3', feeAsset: 'USD', executedAt: Date.UTC(2025, 6, 16, 14) },
  ]);
  const flows = (await collect<CashFlow>(connector.fetchCashFlows(null))).items;
  t.deepEqual(flows, [
    { exchangeFlowId: '501', kind: 'deposit', asset: 'USD', amount: '10300', occurredAt: Date.UTC(2025, 0, 2, 17) },
    // A date without a time is the close (16:00 ET), not midnight; a dividend is income (issue 16).
    { exchangeFlowId: '502', kind: 'withdrawal', asset: 'USD', amount: '2500.5', occurredAt: Date.UTC(2025, 0, 3, 21) },
    { exchangeFlowId: '503', kind: 'income', asset: 'USD', amount: '12.34', occurredAt: Date.UTC(2025, 0, 4, 21) },
  ]);
});

test.serial('one downloaded statement serves fills, cash flows and balances within its reuse window', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    trades: makeFlexTrades(3),
    cashTransactions: [flexCash({ transactionID: '1', dateTime: '20250102;080000', amount: '5000' })],
    openPositions: [{ accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', symbol: 'AAPL', position: '10', markPrice: '190.1', reportDate: '20250109', levelOfDetail: 'SUMMARY', multiplier: '1' }],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url, { statementTtlMs: 60_000 }));
  await collect(connector.fetchFills(null));
  await collect(connector.fetchCashFlows(null));
  t.deepEqual(await connector.fetchBalances(), [{ asset: 'USD', total: '50000.25' }, { asset: 'AAPL', total: '10' }]);
  t.is(sendRequests(fake), 1);
  t.is(fake.statementsServed(), 1);
});

test.serial('a statement without a cash report makes the balance fetch fail, never report zero', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, { endingCash: undefined });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const error = await t.throwsAsync(connector.fetchBalances(), { instanceOf: VenueError });
  t.is(error.kind, 'rejected');
  t.regex(error.message, /CashReport/u);
});

test.serial('a statement in another base currency than configured is refused', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, { baseCurrency: 'EUR' });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  t.like(await t.throwsAsync(connector.fetchBalances(), { instanceOf: VenueError }), { kind: 'rejected' });
  const eur = createIbkrFlexConnector(credential, options(fake.url, { baseCurrency: 'EUR' }));
  t.is(eur.baseCurrency, 'EUR');
  t.deepEqual(await eur.fetchBalances(), [{ asset: 'EUR', total: '50000.25' }]);
});

test.serial('hourly marks are derived from executions and position marks, carried forward between them', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY, {
    whenGenerated: '20250103;120000',
    trades: [
      flexTrade({ tradeID: '1', dateTime: '20250102;093000', tradePrice: '100', quantity: '5' }),
      flexTrade({ tradeID: '2', dateTime: '20250102;094500', tradePrice: '102.5', quantity: '-2' }),
      flexTrade({ tradeID: '3', dateTime: '20250102;095900', tradePrice: '99', quantity: '1' }),
    ],
    openPositions: [{ accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', symbol: 'AAPL', position: '4', markPrice: '101.75', reportDate: '20250102', levelOfDetail: 'SUMMARY' }],
  });
  t.teardown(() => fake.close());
  const connector = createIbkrFlexConnector(credential, options(fake.url));
  const h = Date.UTC(2025, 0, 2, 14); // 09:00 ET
  const candles = await connector.fetchHourlyCandles('AAPL/USD', h - 3_600_000, h + 48 * 3_600_000);
  t.deepEqual(candles[0], { symbol: 'AAPL/USD', openTime: h, open: '100', high: '102.5', low: '99', close: '99', volume: '8' });
  t.deepEqual(candles[1], { symbol: 'AAPL/USD', openTime: h + 3_600_000, open: '99', high: '99', low: '99', close: '99', volume: '0' });
  t.like(candles[7], { openTime: h + 7 * 3_600_000, open: '101.75', close: '101.75', volume: '0' });
  t.is(candles.at(-1)?.openTime, Date.UTC(2025, 0, 3, 17), 'no marks past the statement');
  t.deepEqual(await connector.fetchHourlyCandles('MSFT/USD', h, h + 3_600_000), []);
  t.deepEqual(deriveHourlyCandles('X/USD', [], 0, 10 * 3_600_000, undefined), []);
});

test.serial('Flex date-times follow US/Eastern across daylight saving', (t) => {
  t.is(parseFlexDateTime('20250102;093000', 'America/New_York'), Date.UTC(2025, 0, 2, 14, 30));
  t.is(parseFlexDateTime('2025-07-02;09:30:00', 'America/New_York'), Date.UTC(2025, 6, 2, 13, 30));
  t.is(parseFlexDateTime('20250310', 'America/New_York'), Date.UTC(2025, 2, 10, 4));
  t.is(parseFlexDateTime('yesterday', 'America/New_York'), undefined);
});

test.serial('enclave mode refuses a non-HTTPS Flex URL and any base-URL override', (t) => {
  t.throws(() => createIbkrFlexConnector(credential, { enclaveMode: true, baseUrl: 'http://127.0.0.1:1' }), { instanceOf: VenueConfigError, message: /non-HTTPS venue URL refused/u });
  t.throws(() => createIbkrFlexConnector(credential, { enclaveMode: true, baseUrl: 'https://elsewhere.example' }), { instanceOf: VenueConfigError, message: /override refused/u });
  t.notThrows(() => createIbkrFlexConnector(credential, { enclaveMode: true }));
});

test.serial('the token and query id appear in no error or log line, whatever fails', async (t) => {
  const fake = await startFlexFake(TOKEN, QUERY);
  t.teardown(() => fake.close());
  const lines: string[] = [];
  const logger = createLogger('trace', new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString('utf8')); done(); } }));
  const connector = createIbkrFlexConnector(credential, options(fake.url, { retry: { ...fastRetry, maxAttempts: 1, attemptTimeoutMs: 150 }, maxPollMs: 20 }));
  const errors: unknown[] = [];
  const faults = [
    () => fake.server.inject('/SendRequest', { kind: 'status', status: 500, body: TOKEN }),
    () => fake.server.inject('/SendRequest', { kind: 'hang' }),
    () => fake.server.inject('/SendRequest', { kind: 'reset' }),
    () => fake.server.inject('/GetStatement', { kind: 'malformed', body: `<x t="${TOKEN}"` }),
    () => fake.state.script.push({ endpoint: 'SendRequest', code: 1018 }),
    () => fake.state.script.push(...Array.from({ length: 20 }, () => ({ endpoint: 'GetStatement' as const, code: 1019 }))),
  ];
  for (const fault of faults) {
    fault();
    errors.push(await collect(connector.fetchFills(null)).catch((e: unknown) => e));
    fake.state.script.length = 0;
  }
  errors.push(await createIbkrFlexConnector({ apiKey: `${TOKEN}x`, secret: QUERY }, options(fake.url)).fetchBalances().catch((e: unknown) => e));
  for (const error of errors) {
    t.true(error instanceof VenueError);
    logger.error({ err: error }, 'flex sync failed');
    const text = [String(error), (error as Error).stack ?? '', JSON.stringify(error)].join('\n');
    t.false(text.includes(TOKEN) || text.includes(QUERY));
  }
  t.false(lines.some((line) => line.includes(TOKEN) || line.includes(QUERY)));
  t.true(fake.server.requests.some((r) => r.query.get('t') === TOKEN), 'the canary did reach the venue');
});
