// The confidentiality guarantee, end to end: the real service process syncs a fake Binance seeded
// with a canary API key, secret and trade ids, then everything it emits is scanned for them: every
// log line (at debug level), /metrics, every gRPC reply and error, and whatever the gateway role
// can read. The canaries are first shown to have reached the venue and the trades table, so the
// scan could find them if they leaked.
import test from 'ava';
import pg from 'pg';
import { z } from 'zod';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { SyncType, type SyncJobProgress } from '../../src/grpc/generated/enclave.js';
import { HealthCheckResponse_ServingStatus } from '../../src/grpc/generated/health/v1/health.js';
import { sql } from '../../src/storage/pool.js';
import { createTestDatabase } from '../support/database.js';
import { CANARY_API_KEY, CANARY_API_SECRET, CANARY_TRADE_ID_MARK, canaryHits, startCanaryVenue } from '../support/canary-venue.js';
import { connectAccount, startServiceProcess } from '../support/service-process.js';
import { isServiceError, unary } from '../grpc/helpers.js';

const DAY = 86_400_000;

test('no canary key, secret or trade id appears in logs, metrics, replies, errors or gateway-visible tables', async (t) => {
  const db = await createTestDatabase(t);
  const venue = await startCanaryVenue({ fills: 300 });
  t.teardown(() => venue.fake.stop());
  const account = { userUid: 'canary_user', exchange: 'binance' } as const;
  await connectAccount(db.pool, account, { apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET });
  // A second account whose venue rejects the key: the failure path must not quote it either.
  const rejected = { userUid: 'canary_rejected', exchange: 'binance' } as const;
  await connectAccount(db.pool, rejected, { apiKey: `${CANARY_API_KEY}x`, secret: CANARY_API_SECRET });

  const svc = await startServiceProcess({ DATABASE_URL: db.url, VENUE_BASE_URLS: `binance=${venue.baseUrl}` });
  t.teardown(async () => { await svc.stop('SIGKILL'); });
  const emitted: string[] = [];
  const record = (value: unknown): void => { emitted.push(JSON.stringify(value)); };
  const recordError = (error: unknown): ServiceError => {
    if (!isServiceError(error)) throw error;
    record({ code: error.code, details: error.details, message: error.message, metadata: error.metadata.getMap() });
    return error;
  };
  const expectError = async (promise: Promise<unknown>): Promise<ServiceError> => {
    try {
      record(await promise);
    } catch (error) {
      return recordError(error);
    }
    throw new Error('the call was expected to fail');
  };

  const c = svc.client;
  const now = Date.now();
  const full = await unary(c.processSyncJob.bind(c), { ...account, type: SyncType.SYNC_TYPE_FULL }, { deadline: now + 90_000 });
  record(full);
  t.true(full.fillsSynced === 300, `fills synced: ${full.fillsSynced}`);
  const progress = await new Promise<SyncJobProgress[]>((resolve, reject) => {
    const messages: SyncJobProgress[] = [];
    const stream = c.watchSyncJob({ ...account, type: SyncType.SYNC_TYPE_INCREMENTAL }, new Metadata(), { deadline: Date.now() + 60_000 });
    stream.on('data', (m: SyncJobProgress) => messages.push(m));
    stream.on('error', reject);
    stream.on('end', () => resolve(messages));
  });
  record(progress);
  const range = { ...account, fromMs: now - 12 * DAY, toMs: now };
  const returns = await unary(c.calculateHistoricalReturns.bind(c), range);
  t.true(returns.returns.length > 100);
  record(returns);
  record(await unary(c.getAggregatedMetrics.bind(c), account));
  record(await unary(c.getSnapshotTimeSeries.bind(c), range));
  record(await unary(c.healthCheck.bind(c), {}));
  record(await unary(svc.health.check.bind(svc.health), { service: '' }));

  // Errors: a rejected key, an unknown account, and a canary pasted where an id belongs.
  const venueError = await expectError(unary(c.processSyncJob.bind(c), { ...rejected, type: SyncType.SYNC_TYPE_FULL }, { deadline: Date.now() + 60_000 }));
  t.not(venueError.code, status.OK);
  t.is((await expectError(unary(c.getAggregatedMetrics.bind(c), { userUid: 'nobody', exchange: 'binance' }))).code, status.NOT_FOUND);
  for (const canary of [CANARY_API_KEY, CANARY_API_SECRET, `${CANARY_TRADE_ID_MARK}000001`]) {
    // The trade-id mark is a valid user_uid, so it reaches the store: NOT_FOUND, not INVALID_ARGUMENT.
    await expectError(unary(c.getAggregatedMetrics.bind(c), { userUid: `${canary}/x`, exchange: 'binance' }));
    await expectError(unary(c.getAggregatedMetrics.bind(c), { userUid: canary, exchange: canary }));
    await expectError(unary(c.calculateHistoricalReturns.bind(c), { userUid: canary, exchange: 'binance', fromMs: now, toMs: now - 1 }));
  }

  const metricsText = await svc.metricsText();
  t.true(metricsText.includes('canary_user'), 'the per-account metrics exist (so the scan covers them)');

  // The canaries did reach the venue and the enclave's own tables.
  t.true(venue.fake.counter('fillsServed') >= 300);
  t.true(venue.fake.requestsTo('/api/v3/myTrades').length > 0);
  const tradeIds = await db.pool.anyFirst(sql.type(z.object({ id: z.string() }))`SELECT exchange_trade_id AS id FROM trades`);
  t.true(tradeIds.length === 300 && tradeIds.every((id) => String(id).startsWith(CANARY_TRADE_ID_MARK)));

  // What the gateway role can read: the two aggregate tables, and nothing else.
  const gateway = new pg.Client({ connectionString: db.urlAs('gateway_user') });
  await gateway.connect();
  let gatewayText: string;
  try {
    const snapshots = await gateway.query('SELECT * FROM balance_snapshots');
    const hourly = await gateway.query('SELECT * FROM hourly_returns');
    t.true(hourly.rows.length > 100);
    gatewayText = JSON.stringify([snapshots.rows, hourly.rows]);
    for (const table of ['trades', 'cash_flows', 'exchange_connections', 'sync_cursors', 'engine_states']) {
      await t.throwsAsync(gateway.query(`SELECT * FROM ${table} LIMIT 1`), { message: /permission denied/u }, table);
    }
  } finally {
    await gateway.end();
  }

  const exit = await svc.stop('SIGTERM');
  t.is(exit.code, 0);
  const logText = svc.lines.join('\n');
  t.true(svc.lines.length > 5, 'the service logged (at debug level)');
  if (process.env['SHOW_SERVICE_LOG'] === '1') t.log(logText);
  t.true(logText.includes('canary_user'), 'the account is named in the logs, so they cover the sync');

  const canaries = [CANARY_API_KEY, CANARY_API_SECRET, CANARY_TRADE_ID_MARK];
  t.deepEqual(canaryHits(logText, canaries), Object.fromEntries(canaries.map((c) => [c, 0])), 'log lines');
  t.deepEqual(canaryHits(metricsText, canaries), Object.fromEntries(canaries.map((c) => [c, 0])), '/metrics');
  t.deepEqual(canaryHits(gatewayText, canaries), Object.fromEntries(canaries.map((c) => [c, 0])), 'gateway tables');
  // Replies and errors: the requests above quoted canaries; no reply or error may quote them back.
  t.deepEqual(canaryHits(emitted.join('\n'), canaries), Object.fromEntries(canaries.map((c) => [c, 0])), 'gRPC replies and errors');
});
