// @stoqey/ib speaks only the TWS socket protocol and ships no mock: these tests drive the real
// IBApi emitter at its event level (connected, execDetails, commissionReport, execDetailsEnd, …),
// as the library's own tests do, with request methods that answer by emitting events.
import test from 'ava';
import { EventName, IBApi, type CommissionReport, type Contract, type Execution, type ExecutionFilter } from '@stoqey/ib';
import { createIbkrTwsConnector, parseTwsTime, type IbkrTwsConnectorOptions } from '../../src/exchanges/ibkr/tws-connector.js';
import { VenueError } from '../../src/exchanges/errors.js';
import { VenueConfigError } from '../../src/exchanges/errors.js';
import type { Fill } from '../../src/domain/types.js';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import type { Page } from '../../src/exchanges/connector.js';

const ACCOUNT = 'U7654321';
const fastRetry = { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000, budgetMs: 10_000, maxAttempts: 3 };

interface ExecutionRow {
  readonly contract: Contract;
  readonly execution: Execution;
  readonly commission?: CommissionReport;
}

/** An IBApi whose requests are answered by emitting the events TWS would send. */
class ScriptedIBApi extends IBApi {
  online = false;
  connectCalls = 0;
  executions: ExecutionRow[] = [];
  /** Codes to answer the next reqExecutions calls with, before answering normally. */
  executionErrors: number[] = [];
  /** Leave the next reqExecutions without an end marker. */
  silentExecutions = 0;
  /** Emit every execDetails twice (TWS re-sends on reconnect). */
  duplicate = false;
  summary: { account: string; tag: string; value: string; currency: string }[] = [];
  positions: { account: string; contract: Contract; pos: number }[] = [];
  bars: { time: number; o: number; h: number; l: number; c: number; v: number }[] = [];
  filters: ExecutionFilter[] = [];
  historicalRequests: unknown[][] = [];

  override get isConnected(): boolean {
    return this.online;
  }

  override connect(): IBApi {
    this.connectCalls += 1;
    setImmediate(() => {
      this.online = true;
      this.emit(EventName.connected);
    });
    return this;
  }

  override disconnect(): IBApi {
    this.online = false;
    return this;
  }

  override reqExecutions(reqId: number, filter: ExecutionFilter): IBApi {
    this.filters.push(filter);
    setImmediate(() => {
      const code = this.executionErrors.shift();
      if (code !== undefined) return this.emit(EventName.error, new Error('TWS says no'), code, reqId);
      for (const row of this.executions) {
        for (let i = 0; i < (this.duplicate ? 2 : 1); i += 1) this.emit(EventName.execDetails, reqId, row.contract, row.execution);
        if (row.commission !== undefined) this.emit(EventName.commissionReport, row.commission);
      }
      if (this.silentExecutions > 0) {
        this.silentExecutions -= 1;
        return;
      }
      this.emit(EventName.execDetailsEnd, reqId);
    });
    return this;
  }

  override reqAccountSummary(reqId: number): IBApi {
    setImmediate(() => {
      for (const row of this.summary) this.emit(EventName.accountSummary, reqId, row.account, row.tag, row.value, row.currency);
      this.emit(EventName.accountSummaryEnd, reqId);
    });
    return this;
  }

  override cancelAccountSummary(): IBApi {
    return this;
  }

  override reqPositions(): IBApi {
    setImmediate(() => {
      for (const row of this.positions) this.emit(EventName.position, row.account, row.contract, row.pos, 100);
      this.emit(EventName.positionEnd);
    });
    return this;
  }

  override cancelPositions(): IBApi {
    return this;
  }

  override reqHistoricalData(reqId: number, ...rest: unknown[]): IBApi {
    this.historicalRequests.push(rest);
    setImmediate(() => {
      for (const b of this.bars) this.emit(EventName.historicalData, reqId, String(b.time), b.o, b.h, b.l, b.c, b.v, 10, b.c);
      this.emit(EventName.historicalData, reqId, 'finished-20250102-20250103', -1, -1, -1, -1, -1, -1, -1);
    });
    return this;
  }

  override cancelHistoricalData(): IBApi {
    return this;
  }
}

const aapl: Contract = { symbol: 'AAPL', localSymbol: 'AAPL', secType: 'STK' as Contract['secType'], currency: 'USD', exchange: 'SMART' };

function row(execId: string, time: string, side: 'BOT' | 'SLD', shares: number, price: number, commission?: number, contract: Contract = aapl): ExecutionRow {
  return {
    contract,
    execution: { execId, time, acctNumber: ACCOUNT, side, shares, price, orderId: 1, exchange: 'ISLAND' },
    ...(commission === undefined ? {} : { commission: { execId, commission, currency: 'USD' } }),
  };
}

function setup(extra: Partial<IbkrTwsConnectorOptions> = {}) {
  const api = new ScriptedIBApi();
  const connector = createIbkrTwsConnector({ apiKey: ACCOUNT, secret: '' }, { enclaveMode: false, api, retry: fastRetry, commissionGraceMs: 50, ...extra });
  return { api, connector };
}

async function collect<T>(pages: AsyncIterable<Page<T>>): Promise<{ items: T[]; pages: Page<T>[] }> {
  const all: Page<T>[] = [];
  for await (const page of pages) all.push(page);
  return { items: all.flatMap((p) => [...p.items]), pages: all };
}

test('executions and their commission reports become fills after connecting', async (t) => {
  const { api, connector } = setup();
  const option: Contract = { symbol: 'AAPL', localSymbol: 'AAPL  250815C00200000', secType: 'OPT' as Contract['secType'], currency: 'USD', multiplier: 100 };
  api.executions = [
    row('0000e0d5.6571.01.01', '20250102 09:30:00 US/Eastern', 'BOT', 10, 185.25, 1.0005),
    row('0000e0d5.6572.01.01', '20250102-15:00:00', 'SLD', 2, 1.35, 0.65, option),
    { ...row('0000e0d5.9999.01.01', '20250102-15:00:00', 'BOT', 1, 1), execution: { execId: 'other', acctNumber: 'U0000001', side: 'BOT', shares: 1, price: 1, time: '20250102-15:00:00' } },
  ];
  const { items } = await collect<Fill>(connector.fetchFills(null));
  t.is(api.connectCalls, 1);
  t.deepEqual(api.filters, [{ acctCode: ACCOUNT }]);
  t.deepEqual(items, [
    { exchangeTradeId: '0000e0d5.6571.01.01', symbol: 'AAPL/USD', baseAsset: 'AAPL', quoteAsset: 'USD', side: 'buy', quantity: '10', price: '185.25', fee: '1.0005', feeAsset: 'USD', executedAt: Date.UTC(2025, 0, 2, 14, 30) },
    { exchangeTradeId: '0000e0d5.6572.01.01', symbol: 'AAPL  250815C00200000/USD', baseAsset: 'AAPL  250815C00200000', quoteAsset: 'USD', side: 'sell', quantity: '200', price: '1.35', fee: '0.65', feeAsset: 'USD', executedAt: Date.UTC(2025, 0, 2, 15) },
  ]);
});

test('10,000 executions, each sent twice, arrive as exactly 10,000 unique fills over pages', async (t) => {
  const { api, connector } = setup({ pageSize: 1000 });
  api.duplicate = true;
  api.executions = Array.from({ length: 10_000 }, (_, i) => row(`exec.${String(i).padStart(5, '0')}`, `20250102-${String(10 + Math.floor(i / 3600)).padStart(2, '0')}:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`, i % 2 === 0 ? 'BOT' : 'SLD', 1, 100, 0.5));
  const { items, pages } = await collect<Fill>(connector.fetchFills(null));
  t.is(items.length, 10_000);
  t.is(new Set(items.map((f) => f.exchangeTradeId)).size, 10_000);
  t.is(pages.length, 10);
});

test('a sync from a saved cursor delivers only executions that are new', async (t) => {
  const { api, connector } = setup();
  api.executions = [row('a', '20250102-14:30:00', 'BOT', 1, 10, 1), row('b', '20250102-14:31:00', 'BOT', 1, 10, 1)];
  const first = await collect<Fill>(connector.fetchFills(null));
  api.executions.push(row('c', '20250102-14:31:00', 'SLD', 1, 11, 1), row('d', '20250102-14:40:00', 'SLD', 1, 12, 1));
  const second = await collect<Fill>(connector.fetchFills(first.pages.at(-1)?.cursor ?? null));
  t.deepEqual(second.items.map((f) => f.exchangeTradeId), ['c', 'd']);
  t.is(api.connectCalls, 1, 'the connection is reused');
});

test('a TWS connectivity error for the request is retried; a definitive one is reported', async (t) => {
  const { api, connector } = setup();
  api.executions = [row('a', '20250102-14:30:00', 'BOT', 1, 10, 1)];
  api.executionErrors = [1100];
  t.is((await collect<Fill>(connector.fetchFills(null))).items.length, 1);
  t.is(api.filters.length, 2);
  api.executionErrors = [321];
  const error = await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError });
  t.like(error, { kind: 'rejected', exchange: 'ibkr' });
  t.regex(error.message, /TWS 321/u);
});

test('a request that never ends times out, is retried, and leaves no listeners behind', async (t) => {
  // AbortSignal.timeout's timer is unref'd; a real TWS socket would keep the process alive meanwhile.
  const keepAlive = setInterval(() => undefined, 50);
  t.teardown(() => clearInterval(keepAlive));
  const { api, connector } = setup({ retry: { ...fastRetry, attemptTimeoutMs: 100, maxAttempts: 2 } });
  api.executions = [row('a', '20250102-14:30:00', 'BOT', 1, 10, 1)];
  await collect(connector.fetchFills(null));
  const baseline = api.listenerCount(EventName.execDetails) + api.listenerCount(EventName.error);
  api.silentExecutions = 1;
  t.is((await collect<Fill>(connector.fetchFills(null))).items.length, 1);
  api.silentExecutions = 2;
  t.like(await t.throwsAsync(collect(connector.fetchFills(null)), { instanceOf: VenueError }), { kind: 'timeout' });
  t.is(api.listenerCount(EventName.execDetails) + api.listenerCount(EventName.error), baseline);
});

test('a missing commission report does not hold the sync longer than the grace period', async (t) => {
  const { api, connector } = setup();
  api.executions = [row('a', '20250102-14:30:00', 'BOT', 1, 10)];
  const { items } = await collect<Fill>(connector.fetchFills(null));
  t.like(items[0], { fee: '0', feeAsset: 'USD' });
});

test('balances are the account summary cash and the account positions; no cash figure is an error', async (t) => {
  const { api, connector } = setup();
  api.summary = [
    { account: ACCOUNT, tag: 'TotalCashValue', value: '25000.75', currency: 'USD' },
    { account: 'U0000001', tag: 'TotalCashValue', value: '1', currency: 'USD' },
  ];
  api.positions = [{ account: ACCOUNT, contract: aapl, pos: 15 }, { account: 'U0000001', contract: aapl, pos: 3 }];
  t.deepEqual(await connector.fetchBalances(), [{ asset: 'USD', total: '25000.75' }, { asset: 'AAPL', total: '15' }]);
  api.summary = [{ account: 'U0000001', tag: 'TotalCashValue', value: '1', currency: 'USD' }];
  t.like(await t.throwsAsync(connector.fetchBalances(), { instanceOf: VenueError }), { kind: 'rejected' });
});

test('hourly historical bars become candles within the asked range', async (t) => {
  const { api, connector } = setup();
  const h = Date.UTC(2025, 0, 2, 14);
  api.bars = Array.from({ length: 5 }, (_, i) => ({ time: h / 1000 + i * 3600, o: 185.1, h: 186, l: 184.5, c: 185.75 + i, v: 12_000 }));
  const candles = await connector.fetchHourlyCandles('AAPL/USD', h + 3_600_000, h + 4 * 3_600_000);
  t.deepEqual(candles.map((c) => c.openTime), [h + 3_600_000, h + 2 * 3_600_000, h + 3 * 3_600_000]);
  t.deepEqual(candles[0], { symbol: 'AAPL/USD', openTime: h + 3_600_000, open: '185.1', high: '186', low: '184.5', close: '186.75', volume: '12000' });
  t.like(api.historicalRequests[0], { 1: '20250102-18:00:00', 2: '1 D', 3: '1 hour', 4: 'TRADES', 6: 2 });
});

test('cash flows are empty for TWS (they come from Flex)', async (t) => {
  const { connector } = setup();
  t.is((await collect(connector.fetchCashFlows(null))).pages.length, 0);
});

test('enclave mode refuses a TWS host other than loopback', (t) => {
  t.throws(() => createIbkrTwsConnector({ apiKey: ACCOUNT, secret: '' }, { enclaveMode: true, host: '10.0.0.5', api: new ScriptedIBApi() }), { instanceOf: VenueConfigError, message: /non-loopback/u });
  t.notThrows(() => createIbkrTwsConnector({ apiKey: ACCOUNT, secret: '' }, { enclaveMode: true, api: new ScriptedIBApi() }));
});

test('TWS execution times parse in their stated, default or UTC zone', (t) => {
  t.is(parseTwsTime('20250702  09:30:00', 'America/New_York'), Date.UTC(2025, 6, 2, 13, 30));
  t.is(parseTwsTime('20250102 09:30:00 Europe/Zurich', 'America/New_York'), Date.UTC(2025, 0, 2, 8, 30));
  t.is(parseTwsTime('20250102-09:30:00', 'America/New_York'), Date.UTC(2025, 0, 2, 9, 30));
  t.is(parseTwsTime('20250102 09:30:00 Mars/Olympus', 'America/New_York'), undefined);
  t.is(parseTwsTime('soon', 'America/New_York'), undefined);
});

test('concurrent requests share one connection attempt', async (t) => {
  const { api, connector } = setup();
  api.executions = [row('a', '20250102-14:30:00', 'BOT', 1, 10, 1)];
  api.summary = [{ account: ACCOUNT, tag: 'TotalCashValue', value: '5', currency: 'USD' }];
  const [fills, balances] = await Promise.all([collect<Fill>(connector.fetchFills(null)), connector.fetchBalances()]);
  t.is(fills.items.length, 1);
  t.deepEqual(balances, [{ asset: 'USD', total: '5' }]);
  t.is(api.connectCalls, 1);
  await connector.close();
  t.false(api.isConnected);
  await t.throwsAsync(connector.fetchBalances(), { instanceOf: VenueError });
});

test('a TWS correction (execId .01 → .02) replaces the execution instead of counting twice, also when it comes after the cursor moved on', async (t) => {
  const { api, connector } = setup();
  api.executions = [row('0000e0d5.6571.01.01', '20250102-14:30:00', 'BOT', 10, 185.25, 1), row('0000e0d5.6580.01.01', '20250102-15:30:00', 'BOT', 1, 50, 1)];
  const first = await collect<Fill>(connector.fetchFills(null));
  // TWS re-sends the first execution corrected (5 shares, not 10).
  api.executions.push(row('0000e0d5.6571.01.02', '20250102-14:30:00', 'BOT', 5, 185.25, 1));
  const second = await collect<Fill>(connector.fetchFills(first.pages.at(-1)?.cursor ?? null));
  t.deepEqual(second.items.map((f) => f.exchangeTradeId).sort(), ['0000e0d5.6571.01.01:corrected', '0000e0d5.6571.01.02']);
  const all = [...first.items, ...second.items];
  const net = all.filter((f) => f.baseAsset === 'AAPL').reduce((q, f) => q + (f.side === 'buy' ? 1 : -1) * Number(f.quantity), 0);
  t.is(net, 5 + 1);
  const refund = all.find((f) => f.exchangeTradeId.endsWith(':corrected'));
  t.is(refund?.fee, '-1');
});

test('a currency bought through a CASH contract is the currency (not EUR.USD) and is marked from its IDEALPRO pair (MIDPOINT), not a stock of that name', async (t) => {
  const { api, connector } = setup();
  // A CASH contract as TWS describes EUR.USD (symbol EUR, localSymbol EUR.USD, secType CASH, IDEALPRO).
  const eurusd: Contract = { symbol: 'EUR', localSymbol: 'EUR.USD', secType: 'CASH' as Contract['secType'], currency: 'USD', exchange: 'IDEALPRO' };
  api.executions = [row('0000e0d5.7001.01.01', '20250102-14:10:00', 'BOT', 10_000, 1.09, 2, eurusd)];
  const { items } = await collect<Fill>(connector.fetchFills(null));
  t.like(items[0], { baseAsset: 'EUR', quoteAsset: 'USD', symbol: 'EUR/USD', quantity: '10000', price: '1.09' });
  const h = Date.UTC(2025, 0, 2, 13);
  api.bars = Array.from({ length: 4 }, (_, i) => ({ time: h / 1000 + i * 3600, o: 1.09, h: 1.1, l: 1.08, c: 1.09 + i / 100, v: -1 }));
  const candles = await connector.fetchHourlyCandles('EUR/USD', h, h + 4 * 3_600_000);
  t.like(api.historicalRequests[0], { 0: { symbol: 'EUR', secType: 'CASH', exchange: 'IDEALPRO', currency: 'USD' }, 4: 'MIDPOINT' });
  await connector.fetchHourlyCandles('AAPL/USD', h, h + 3_600_000);
  t.like(api.historicalRequests[1], { 0: { symbol: 'AAPL', secType: 'STK' }, 4: 'TRADES' });
  // Through the engine: 10,000 EUR bought at 1.09 from 20,000 USD, marked 1.11 at 16:00: equity 20,200 − 2 fee.
  const r = aggregate({
    baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [{ asset: 'USD', total: '20000' }], fills: items, cashFlows: [],
    candles, untilHour: h + 3 * 3_600_000, startHour: h + 3_600_000,
  });
  t.true(Math.abs(r.snapshot!.equity - (20_000 - 10_900 - 2 + 10_000 * 1.11)) < 1e-6, String(r.snapshot?.equity));
});

