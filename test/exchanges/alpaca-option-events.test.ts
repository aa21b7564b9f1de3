// Alpaca option exercise, assignment and expiry (OPEXC, OPASN, OPEXP with their OPTRD legs; issue 16,
// item 6) through the real connector (the SDK's generated API classes against the fake) and the
// engine. Rows are the examples of docs.alpaca.markets/docs/non-trade-activities-for-option-events,
// moved in time; the example gives an exercise and its OPTRD one id, and so does the fake.
//
// Hand computation (exercise): 30,000 USD and 2 AAPL 150 calls marked 4,000 each (40 a share × 100):
// equity 38,000. Exercised: the 2 contracts leave, 200 AAPL arrive against 30,000 USD; AAPL marked
// 190: 200 × 190 = 38,000. No flow, no return. Expiry: a call marked 120 (1.20 × 100) expires: a loss
// of 120, performance, not a flow.
import test from 'ava';
import { createAlpacaConnector } from '../../src/exchanges/alpaca/alpaca-connector.js';
import { aggregate } from '../../src/domain/in-process-aggregator.js';
import type { Candle, CashFlow } from '../../src/domain/types.js';
import type { Page } from '../../src/exchanges/connector.js';
import { alpacaActivityId, startAlpacaFake, type AlpacaCashRow } from '../../testkit/fakes/alpaca-fake.js';

const KEY = 'AKOPTIONEVENTS000001';
const SECRET = 'option-events-secret-000000000000000';
const T0 = Date.UTC(2025, 0, 2, 15);
const H = 3_600_000;
const CALL = 'AAPL230721C00150000';
const OTM = 'AAPL230721C00200000';

async function collect<T>(pages: AsyncIterable<Page<T>>): Promise<T[]> {
  const items: T[] = [];
  for await (const page of pages) items.push(...page.items);
  return items;
}

const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const candles = (symbol: string, close: string): Candle[] => Array.from({ length: 90 }, (_, i) => ({ symbol, openTime: T0 - 16 * H + i * H, open: close, high: close, low: close, close, volume: '1' }));

test('an option exercise moves contracts out and shares in at their marks (no return, no flow); an expiry realizes the last value as a loss', async (t) => {
  const exercise = alpacaActivityId(T0 + 24 * H, 1);
  const rows: AlpacaCashRow[] = [
    { id: alpacaActivityId(T0, 0), activity_type: 'CSD', date: day(T0), net_amount: '30000', description: '', status: 'executed' },
    { id: alpacaActivityId(T0, 2), activity_type: 'JNLS', date: day(T0), net_amount: '0', description: '', status: 'executed', symbol: CALL, qty: '2' },
    { id: alpacaActivityId(T0, 3), activity_type: 'JNLS', date: day(T0), net_amount: '0', description: '', status: 'executed', symbol: OTM, qty: '1' },
    { id: exercise, activity_type: 'OPEXC', date: day(T0 + 24 * H), net_amount: '0', description: 'Option Exercise', status: 'executed', symbol: CALL, qty: '-2' },
    { id: exercise, activity_type: 'OPTRD', date: day(T0 + 24 * H), net_amount: '-30000', description: 'Option Trade', status: 'executed', symbol: 'AAPL', qty: '200', price: '150' },
    { id: alpacaActivityId(T0 + 48 * H, 4), activity_type: 'OPEXP', date: day(T0 + 48 * H), net_amount: '0', description: 'Option Expiry', status: 'executed', symbol: OTM, qty: '-1' },
  ];
  const fake = await startAlpacaFake(KEY, SECRET, { cash: rows });
  t.teardown(() => fake.close());
  const connector = createAlpacaConnector({ apiKey: KEY, secret: SECRET }, { enclaveMode: false, baseUrl: fake.url, retry: { baseDelayMs: 1, maxDelayMs: 5, attemptTimeoutMs: 2_000, budgetMs: 10_000, maxAttempts: 3 } });
  const flows = await collect<CashFlow>(connector.fetchCashFlows(null));
  t.deepEqual(flows.slice(3).map((c) => [c.kind, c.asset, c.amount]), [
    ['expense', CALL, '2'], ['income', 'AAPL', '200'], ['expense', 'USD', '30000'], ['expense', OTM, '1'],
  ]);
  const types = new Set((fake.server.requests.find((r) => r.path === '/v2/account/activities')?.query.get('activity_types') ?? '').split(','));
  for (const type of ['OPASN', 'OPEXP', 'OPEXC', 'OPTRD']) t.true(types.has(type), type);
  t.is(new Set(flows.map((c) => c.exchangeFlowId)).size, flows.length);

  const r = aggregate({
    baseCurrency: 'USD', costMethod: 'average', state: null, openingBalances: [], fills: [], cashFlows: flows,
    candles: [...candles(`${CALL}/USD`, '4000'), ...candles(`${OTM}/USD`, '120'), ...candles('AAPL/USD', '190')], untilHour: T0 + 50 * H,
  });
  const hourOf = (ms: number) => r.hourlyReturns.find((h) => h.hourStart === Math.floor(ms / H) * H)!;
  const exerciseHour = hourOf(Date.parse(`${day(T0 + 24 * H)}T00:00:00Z`));
  t.is(exerciseHour.netFlow, 0);
  t.true(Math.abs(exerciseHour.return) < 1e-12);
  const expiryHour = hourOf(Date.parse(`${day(T0 + 48 * H)}T00:00:00Z`));
  t.is(expiryHour.netFlow, 0);
  t.true(Math.abs(expiryHour.return - -120 / 38_120) < 1e-12, String(expiryHour.return));
  t.true(Math.abs(r.snapshot!.equity - 38_000) < 1e-9);
});
