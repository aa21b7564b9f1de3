import test from 'ava';
import type { AccountKey, Fill } from '../../src/domain/types.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { VenueError } from '../../src/exchanges/errors.js';

const HOUR = 3_600_000;
const START = Date.UTC(2026, 0, 1);
const alice: AccountKey = { userUid: 'alice', exchange: 'simulated' };

async function all<T>(pages: AsyncIterable<{ items: readonly T[]; cursor: string }>): Promise<{ items: T[]; cursors: string[] }> {
  const items: T[] = [];
  const cursors: string[] = [];
  for await (const page of pages) { items.push(...page.items); cursors.push(page.cursor); }
  return { items, cursors };
}

test('the same seed and clock give the same fills, flows and candles', async (t) => {
  const clock = { now: () => START + 200 * HOUR };
  const a = createSimulatedConnector(alice, { seed: 3, clock, startMs: START });
  const b = createSimulatedConnector(alice, { seed: 3, clock, startMs: START });
  t.deepEqual((await all(a.fetchFills(null))).items, (await all(b.fetchFills(null))).items);
  t.deepEqual(await a.fetchHourlyCandles('BTC/USDT', START, START + 24 * HOUR), await b.fetchHourlyCandles('BTC/USDT', START, START + 24 * HOUR));
  const other = createSimulatedConnector(alice, { seed: 4, clock, startMs: START });
  t.notDeepEqual((await all(a.fetchFills(null))).items, (await all(other.fetchFills(null))).items);
});

test('paging with the cursor resumes exactly after the last page', async (t) => {
  const clock = { now: () => START + 300 * HOUR };
  const venue = createSimulatedConnector(alice, { seed: 3, clock, startMs: START, pageSize: 7 });
  const { items, cursors } = await all(venue.fetchFills(null));
  t.true(cursors.length > 2);
  t.true(items.length > 14);
  const resumed = await all(venue.fetchFills(cursors[1] ?? null));
  t.deepEqual(resumed.items, items.slice(14));
  t.is(new Set(items.map((f) => f.exchangeTradeId)).size, items.length, 'ids are unique');
  t.true(items.every((f, i) => i === 0 || f.executedAt >= (items[i - 1]?.executedAt ?? 0)), 'oldest first');
});

test('records appear only once the clock has passed them', async (t) => {
  let now = START + 50 * HOUR;
  const venue = createSimulatedConnector(alice, { seed: 3, clock: { now: () => now }, startMs: START, fillsPerHour: 0.5 });
  const first = await all(venue.fetchFills(null));
  t.true(first.items.every((f) => f.executedAt <= now));
  now += 50 * HOUR;
  const later = await all(venue.fetchFills(first.cursors.at(-1) ?? null));
  t.true(later.items.length > 0);
  t.true(later.items.every((f: Fill) => f.executedAt > START + 50 * HOUR - HOUR));
  const flows = await all(venue.fetchCashFlows(null));
  t.is(flows.items.length, 1);
  t.is(flows.items[0]?.kind, 'deposit');
});

test('the simulated account never sells more than it holds', async (t) => {
  const venue = createSimulatedConnector(alice, { seed: 11, clock: { now: () => START + 2_000 * HOUR }, startMs: START, fillsPerHour: 0.8 });
  const { items } = await all(venue.fetchFills(null));
  const held = new Map<string, number>();
  let cash = 10_000;
  for (const f of items) {
    const q = Number(f.quantity) * (f.side === 'buy' ? 1 : -1);
    held.set(f.baseAsset, (held.get(f.baseAsset) ?? 0) + q);
    cash -= q * Number(f.price) + Number(f.fee);
    t.true((held.get(f.baseAsset) ?? 0) > -1e-9, 'no oversell');
  }
  t.true(cash > -1e-6, 'no overspend');
  const balances = await venue.fetchBalances();
  t.is(balances[0]?.asset, 'USDT');
});

test('candles cover complete hours only and unknown symbols are refused', async (t) => {
  const venue = createSimulatedConnector(alice, { seed: 3, clock: { now: () => START + 10 * HOUR + 5 }, startMs: START });
  const candles = await venue.fetchHourlyCandles('ETH/USDT', START, START + 100 * HOUR);
  t.is(candles.length, 10);
  t.is(candles[1]?.open, candles[0]?.close);
  await t.throwsAsync(venue.fetchHourlyCandles('DOGE/USDT', START, START + HOUR), { instanceOf: VenueError });
  await venue.close();
  await t.throwsAsync(venue.fetchBalances(), { instanceOf: VenueError });
});

test('a minute bar lies on its hour between the hour\'s open and close; a minute whose hour has not closed has none', async (t) => {
  const clock = { now: () => START + 10 * HOUR };
  const venue = createSimulatedConnector(alice, { seed: 3, clock, startMs: START });
  const [hour] = await venue.fetchHourlyCandles('BTC/USDT', START + 2 * HOUR, START + 3 * HOUR);
  const first = await venue.fetchMinuteCandle!('BTC/USDT', START + 2 * HOUR);
  const middle = await venue.fetchMinuteCandle!('BTC/USDT', START + 2 * HOUR + 30 * 60_000);
  t.is(first?.open, hour!.open);
  t.is(middle?.openTime, START + 2 * HOUR + 30 * 60_000);
  const [lo, hi] = [Math.min(Number(hour!.open), Number(hour!.close)), Math.max(Number(hour!.open), Number(hour!.close))];
  t.true(Number(middle!.open) >= lo - 0.01 && Number(middle!.open) <= hi + 0.01);
  t.is(await venue.fetchMinuteCandle!('BTC/USDT', START + 10 * HOUR + 60_000), null);
});
