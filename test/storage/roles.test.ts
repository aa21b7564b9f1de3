import test from 'ava';
import pg from 'pg';
import { noRows, sql } from '../../src/storage/pool.js';
import { useTestDatabase } from '../../testkit/support/database.js';

const db = useTestDatabase(test);

async function asGateway<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: db().urlAs('gateway_user') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

// hourly_amounts and snapshot_amounts hold the exact figures the disclosure level withholds (sql/010).
// performance_stats holds fees and realized/unrealized P&L besides return figures: not granted (sql/005).
for (const table of ['trades', 'cash_flows', 'exchange_connections', 'engine_states', 'sync_cursors', 'price_candles', 'minute_marks', 'schema_migrations', 'performance_stats', 'hourly_amounts', 'snapshot_amounts']) {
  test(`the gateway role is denied reading ${table}`, async (t) => {
    const error = await asGateway((c) => t.throwsAsync(c.query(`SELECT * FROM ${table} LIMIT 1`)));
    t.is((error as Error & { code?: string }).code, '42501'); // insufficient_privilege
  });
}

test('the gateway role reads hourly_returns and balance_snapshots', async (t) => {
  await db().pool.query(
    sql.type(noRows)`
      INSERT INTO hourly_returns (user_uid, exchange, hour_start, return, cumulative_return, equity_end, net_flow)
      VALUES ('u1', 'binance', '2026-01-01T00:00:00Z', 0.01, 0.01, 1010, 0)`,
  );
  const rows = await asGateway((c) => c.query<{ n: string }>('SELECT count(*)::text AS n FROM hourly_returns'));
  t.is(rows.rows[0]?.n, '1');
  await t.notThrowsAsync(asGateway((c) => c.query('SELECT * FROM balance_snapshots')));
});

test('the gateway role cannot write the aggregate tables', async (t) => {
  const error = await asGateway((c) =>
    t.throwsAsync(c.query(`INSERT INTO hourly_returns VALUES ('u', 'binance', now(), 0, 0, 0, 0)`)),
  );
  t.is((error as Error & { code?: string }).code, '42501');
});

test('the enclave role reads and writes trades but cannot change the schema', async (t) => {
  const client = new pg.Client({ connectionString: db().urlAs('enclave_user') });
  await client.connect();
  try {
    await client.query(`INSERT INTO trades VALUES ('u1', 'binance', 'r1', 'BTC/USDT', 'BTC', 'USDT', 'buy', 1, 2, 0, 'USDT', now())`);
    const read = await client.query('SELECT count(*)::int AS n FROM trades');
    t.is(read.rows[0].n, 1);
    const error = await t.throwsAsync(client.query('DROP TABLE trades'));
    t.is((error as Error & { code?: string }).code, '42501');
  } finally {
    await client.end();
  }
});
