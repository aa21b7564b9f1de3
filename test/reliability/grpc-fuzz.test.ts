// 1,000 generated malformed requests against the real service process (scripts/soak.ts sends
// 10,000): no crash, each answered as the model in testkit/support/grpc-fuzz.ts expects
// (INVALID_ARGUMENT, RESOURCE_EXHAUSTED, or NOT_FOUND for a well-formed unknown account), and the
// health services still SERVING. A user_uid made of every allowed metacharacter is stored and
// matched literally (no LIKE, regex or shell reading of "_", ".", ":", "@", "-").
import test from 'ava';
import { z } from 'zod';
import { status } from '@grpc/grpc-js';
import { ServingStatus, SyncType } from '../../src/grpc/generated/enclave.js';
import { HealthCheckResponse_ServingStatus } from '../../src/grpc/generated/health/v1/health.js';
import { sql } from '../../src/storage/pool.js';
import { createTestDatabase } from '../../testkit/support/database.js';
import { CANARY_API_KEY, CANARY_API_SECRET, startCanaryVenue } from '../../testkit/support/canary-venue.js';
import { fuzzServer, rawClient } from '../../testkit/support/grpc-fuzz.js';
import { connectAccount, startServiceProcess } from '../../testkit/support/service-process.js';
import { isServiceError, unary } from '../../testkit/support/grpc-client.js';

const METACHAR_UID = '_.:@-_%'.replace('%', '') + '_a.b:c@d-e_';

test('1,000 malformed requests crash nothing, each gets the expected status, and health stays SERVING; a metacharacter user_uid matches literally', async (t) => {
  const db = await createTestDatabase(t);
  const venue = await startCanaryVenue({ fills: 40, days: 3, firstId: 500_001 });
  t.teardown(() => venue.fake.stop());
  const literal = { userUid: METACHAR_UID, exchange: 'binance' } as const;
  await connectAccount(db.pool, literal, { apiKey: CANARY_API_KEY, secret: CANARY_API_SECRET }, { disclosureLevel: 'full' });
  // No client-side pacing against the local fake: the one sync is set-up, not what is tested.
  const svc = await startServiceProcess({ DATABASE_URL: db.url, VENUE_BASE_URLS: `binance=${venue.baseUrl}`, VENUE_RATE_LIMIT_MS: '0', LOG_LEVEL: 'info' });
  t.teardown(async () => { await svc.stop('SIGKILL'); });
  const c = svc.client;

  const synced = await unary(c.processSyncJob.bind(c), { ...literal, type: SyncType.SYNC_TYPE_FULL }, { deadline: Date.now() + 60_000 });
  t.is(synced.fillsSynced, 40);

  const client = rawClient(`127.0.0.1:${svc.grpcPort}`);
  t.teardown(() => client.close());
  const figures = await fuzzServer(client, { count: 1_000, seed: 8, alive: () => svc.child.exitCode === null && svc.child.signalCode === null });
  t.log(JSON.stringify(figures));
  t.is(figures.requests, 1_000);
  t.is(figures.crashes, 0);
  t.is(figures.mismatches, 0, JSON.stringify(figures.firstMismatch));
  // The generator reaches every expected outcome, so the oracle is exercised both ways.
  for (const code of ['INVALID_ARGUMENT', 'RESOURCE_EXHAUSTED', 'NOT_FOUND']) t.true((figures.byCode[code] ?? 0) > 10, code);

  const health = await unary(svc.health.check.bind(svc.health), { service: 'enclave.v1.EnclaveService' });
  t.is(health.status, HealthCheckResponse_ServingStatus.SERVING);
  t.is((await unary(c.healthCheck.bind(c), {})).status, ServingStatus.SERVING_STATUS_SERVING);

  // Literal matching: the stored id is the exact string, and look-alikes a LIKE pattern would
  // match ("_" as any character) or a regex would match ("." as any character) find nothing.
  // (Fills are sealed: the account's sealed pages carry its user_uid in clear.)
  const stored = await db.pool.anyFirst(sql.type(z.object({ u: z.string() }))`SELECT DISTINCT user_uid AS u FROM sealed_pages`);
  t.deepEqual(stored, [METACHAR_UID]);
  const metrics = await unary(c.getAggregatedMetrics.bind(c), literal);
  t.true((metrics.metrics?.hours ?? 0) > 0);
  for (const lookalike of [METACHAR_UID.replace('_', 'x'), METACHAR_UID.replace('.', 'x'), METACHAR_UID.replace(/_/gu, 'Z'), `${METACHAR_UID}-`, METACHAR_UID.slice(1)]) {
    const error = await unary(c.getAggregatedMetrics.bind(c), { userUid: lookalike, exchange: 'binance' }).then(() => undefined, (e: unknown) => e);
    t.true(isServiceError(error) && error.code === status.NOT_FOUND, lookalike);
  }
  t.is((await svc.stop('SIGTERM')).code, 0);
  t.false(svc.lines.some((l) => l.includes('unexpected error in gRPC handler')), 'no handler met an unexpected error');
});
