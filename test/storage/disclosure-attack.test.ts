// Issue 14, part 2: the reconstruction attack (testkit/support/reconstruction-attack.ts) run on
// exactly what gateway_user can SELECT, after a demo account with hundreds of fills is synced at
// each disclosure level. At `full` it must recover fills (the attack is real); at `returns` and
// `equity` it must recover none. A level change rewrites what was published before it.
import test from 'ava';
import pg from 'pg';
import { deadlineSignal } from '../../src/actors/nact.js';
import type { DisclosureLevel } from '../../src/domain/disclosure.js';
import type { AccountKey } from '../../src/domain/types.js';
import { createSimulatedConnector } from '../../src/exchanges/simulated.js';
import { createDisclosureStore } from '../../src/storage/disclosure-store.js';
import { createActorHarness } from '../../testkit/support/actor-harness.js';
import { useTestDatabase } from '../../testkit/support/database.js';
import { matchFills, reconstructFills, type ObservedHour, type PublicCandles, type TrueFill } from '../../testkit/support/reconstruction-attack.js';

const db = useTestDatabase(test);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// Day-aligned start, 30 days of history: about 0.5 × 720 hours → a few hundred fills.
const START = Math.floor(Date.now() / DAY) * DAY - 30 * DAY;

async function asGateway<T>(work: (client: pg.Client) => Promise<T>, url = db().urlAs('gateway_user')): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Everything the gateway role reads about the account: hourly rows and snapshots. */
async function gatewayView(account: AccountKey): Promise<ObservedHour[]> {
  return asGateway(async (c) => {
    const hours = await c.query<{ t: string; equity_end: number | null; net_flow: number | null }>(
      `SELECT (extract(epoch FROM hour_start) * 1000)::bigint::text AS t, equity_end, net_flow FROM hourly_returns
       WHERE user_uid = $1 AND exchange = $2 ORDER BY hour_start`, [account.userUid, account.exchange]);
    const snapshots = await c.query<{ t: string; equity: number | null }>(
      `SELECT (extract(epoch FROM at) * 1000)::bigint::text AS t, equity FROM balance_snapshots WHERE user_uid = $1 AND exchange = $2`,
      [account.userUid, account.exchange]);
    const observed = new Map<number, ObservedHour>(hours.rows.map((r) => [Number(r.t), { hourStart: Number(r.t), equityEnd: r.equity_end, netFlow: r.net_flow }]));
    // A snapshot at t is the equity at the end of hour t − 1h: one more point when the hour shows none.
    for (const s of snapshots.rows) {
      const hourStart = Number(s.t) - HOUR;
      const seen = observed.get(hourStart);
      if (s.equity !== null && (seen === undefined || seen.equityEnd === null)) observed.set(hourStart, { hourStart, equityEnd: s.equity, netFlow: seen?.netFlow ?? null });
    }
    return [...observed.values()].sort((a, b) => a.hourStart - b.hourStart);
  });
}

/** Public market data (the attacker fetches the same candles from the venue; read here as the owner). */
async function publicCandles(): Promise<PublicCandles> {
  const { rows } = await asGateway((c) => c.query<{ symbol: string; t: string; open: string; close: string }>(
    `SELECT symbol, (extract(epoch FROM open_time) * 1000)::bigint::text AS t, open::text, close::text FROM price_candles WHERE exchange = 'simulated'`), db().url);
  const out = new Map<string, Map<number, { open: number; close: number }>>();
  for (const r of rows) {
    const asset = r.symbol.split('/')[0]!;
    const series = out.get(asset) ?? new Map<number, { open: number; close: number }>();
    series.set(Number(r.t), { open: Number(r.open), close: Number(r.close) });
    out.set(asset, series);
  }
  return out;
}

async function trueFills(account: AccountKey): Promise<TrueFill[]> {
  // The ground truth, read as the database owner (only to score the attack).
  const { rows } = await asGateway((c) => c.query<{ asset: string; side: 'buy' | 'sell'; quantity: string; t: string }>(
    `SELECT base_asset AS asset, side, quantity::text AS quantity, (extract(epoch FROM executed_at) * 1000)::bigint::text AS t
     FROM trades WHERE user_uid = $1 AND exchange = $2`, [account.userUid, account.exchange]), db().url);
  return rows.map((r) => ({ executedAt: Number(r.t), asset: r.asset, side: r.side, quantity: r.quantity }));
}

async function syncedAt(level: DisclosureLevel, userUid: string): Promise<{ account: AccountKey; truth: TrueFill[] }> {
  const account: AccountKey = { userUid, exchange: 'simulated' };
  const h = createActorHarness({
    database: db(), settings: { syncIntervalMs: 0 },
    connectorFactory: (a) => createSimulatedConnector(a, { seed: 1414, clock: { now: () => Date.now() }, startMs: START, fillsPerHour: 0.5, pageSize: 500 }),
  });
  try {
    await h.addAccount(account);
    await createDisclosureStore(db().pool).setDisclosureLevel(account, level);
    await h.supervisor.sync(account, 'full', { signal: deadlineSignal(120_000) });
  } finally {
    await h.close();
  }
  return { account, truth: await trueFills(account) };
}

async function attack(account: AccountKey): Promise<{ recovered: number; candidates: number }> {
  const candidates = reconstructFills(await gatewayView(account), await publicCandles());
  return { recovered: matchFills(candidates, await trueFills(account)).length, candidates: candidates.length };
}

test.serial('at full the attack recovers most fills exactly from what the gateway reads (the attack is real)', async (t) => {
  const { account, truth } = await syncedAt('full', 'attack-full');
  t.true(truth.length >= 200, `fills ${truth.length}`);
  const { recovered } = await attack(account);
  t.log(`full: ${recovered} of ${truth.length} fills recovered exactly`);
  t.true(recovered >= truth.length / 2, `recovered ${recovered} of ${truth.length}`);
});

for (const level of ['returns', 'equity'] as const) {
  test.serial(`at ${level} the attack recovers no fill`, async (t) => {
    const { account, truth } = await syncedAt(level, `attack-${level}`);
    t.true(truth.length >= 200, `fills ${truth.length}`);
    const { recovered, candidates } = await attack(account);
    t.log(`${level}: ${candidates} candidates, ${recovered} of ${truth.length} fills recovered`);
    t.is(recovered, 0);
    if (level === 'returns') {
      const leaked = await asGateway((c) => c.query(`SELECT 1 FROM hourly_returns WHERE user_uid = $1 AND (equity_end IS NOT NULL OR net_flow IS NOT NULL)
        UNION ALL SELECT 1 FROM balance_snapshots WHERE user_uid = $1 AND (balance IS NOT NULL OR equity IS NOT NULL)`, [account.userUid]));
      t.is(leaked.rowCount, 0, 'no amount at all is published at returns');
    }
  });
}

test.serial('lowering the level rewrites what was published before; raising it publishes again from the private figures', async (t) => {
  const { account, truth } = await syncedAt('full', 'attack-change');
  const disclosure = createDisclosureStore(db().pool);
  t.true((await attack(account)).recovered > 0);
  t.true(await disclosure.setDisclosureLevel(account, 'returns'));
  t.is((await attack(account)).recovered, 0);
  t.is(await disclosure.loadDisclosureLevel(account), 'returns');
  t.true(await disclosure.setDisclosureLevel(account, 'equity'));
  t.is((await attack(account)).recovered, 0);
  const daily = await asGateway((c) => c.query<{ n: string; odd: string }>(
    `SELECT count(*) FILTER (WHERE equity_end IS NOT NULL)::text AS n,
            count(*) FILTER (WHERE equity_end IS NOT NULL AND extract(hour FROM hour_start AT TIME ZONE 'UTC') <> 23)::text AS odd
     FROM hourly_returns WHERE user_uid = $1`, [account.userUid]));
  t.true(Number(daily.rows[0]?.n) >= 29, 'one equity a day at equity');
  t.is(daily.rows[0]?.odd, '0', 'only the hour ending a UTC day shows equity');
  t.true(await disclosure.setDisclosureLevel(account, 'full'));
  t.true((await attack(account)).recovered >= truth.length / 2);
  t.false(await disclosure.setDisclosureLevel({ userUid: 'nobody', exchange: 'simulated' }, 'full'));
});
