// Issue 18: two instances on one database; a command sent to the instance that does not own the
// account's shard is forwarded (one hop) to the one that does, which serves it.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'slonik';
import { z } from 'zod';
import anyTest, { type TestFn } from 'ava';
import { credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { loadConfig } from '../../src/config/config.js';
import { startService, type RunningService } from '../../src/app/service.js';
import { shardOf } from '../../src/domain/shards.js';
import { sealCredential } from '../../src/crypto/sealed-intake.js';
import { EnclaveServiceClient, SyncType, type ProcessSyncJobResponse } from '../../src/grpc/generated/enclave.js';
import { RETRY_AFTER_MS_KEY } from '../../src/grpc/errors.js';
import { FORWARDED_KEY } from '../../src/grpc/peer-forwarding.js';
import { createTestDatabase, type TestDatabase } from '../../testkit/support/database.js';
import { captureLogger, isServiceError, unary } from '../../testkit/support/grpc-client.js';
import { freePort } from '../../testkit/support/free-port.js';

const SHARDS = 4;

interface Instance {
  readonly service: RunningService;
  readonly client: EnclaveServiceClient;
  readonly addr: string;
  readonly lines: string[];
}

const test = anyTest as TestFn<{ db: TestDatabase; a: Instance; b: Instance; scratch: string }>;

async function startInstance(db: TestDatabase, scratch: string, key: string): Promise<Instance> {
  const port = await freePort();
  const addr = `127.0.0.1:${port}`;
  const { logger, lines } = captureLogger();
  const service = await startService(loadConfig({
    DATABASE_URL: db.url, ENCLAVE_HOST: '127.0.0.1', ENCLAVE_PORT: String(port), METRICS_PORT: '0', INSTANCE_ADDR: addr,
    ENCRYPTION_KEY: key, EMBEDDED_DB_DIR: join(scratch, 'pglite'), TSM_REPORT_ROOT: join(scratch, 'no-tsm'),
    SHARD_COUNT: String(SHARDS), LEASE_TTL_MS: '3000', LOG_LEVEL: 'debug',
  }), logger);
  return { service, addr, lines, client: new EnclaveServiceClient(addr, credentials.createInsecure()) };
}

test.before(async (t) => {
  const db = await createTestDatabase();
  const scratch = mkdtempSync(join(tmpdir(), 'forwarding-'));
  // One deployment: both instances hold the same root secret.
  const key = randomBytes(32).toString('hex');
  const a = await startInstance(db, scratch, key);
  const b = await startInstance(db, scratch, key);
  t.context = { db, a, b, scratch };
  // The first instance took every shard; it hands half back within a lease round or two.
  for (let i = 0; i < 100; i += 1) {
    const owners = [...(await ownersByShard(db)).values()];
    // Settled: each holds its fair share.
    if (owners.filter((x) => x === a.addr).length === SHARDS / 2 && owners.filter((x) => x === b.addr).length === SHARDS / 2) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error('the second instance never got a shard');
});

test.after.always(async (t) => {
  const { a, b, db, scratch } = t.context;
  for (const instance of [a, b]) {
    instance?.client.close();
    await instance?.service.stop();
  }
  await db?.drop();
  if (scratch !== undefined) rmSync(scratch, { recursive: true, force: true });
});

async function ownersByShard(db: TestDatabase): Promise<Map<number, string>> {
  const rows = await db.pool.any(sql.type(z.object({ shard: z.number(), owner_addr: z.string() }))`SELECT shard, owner_addr FROM placement WHERE owner_id IS NOT NULL AND expires_at > now()`);
  return new Map(rows.map((r) => [r.shard, r.owner_addr]));
}

async function userOwnedBy(db: TestDatabase, addr: string, prefix: string): Promise<string> {
  const owners = await ownersByShard(db);
  for (let i = 0; ; i += 1) if (owners.get(shardOf(`${prefix}-${i}`, SHARDS)) === addr) return `${prefix}-${i}`;
}

async function forwardedCount(service: RunningService, method: string, outcome: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${service.metricsPort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`enclave_forwarded_requests_total{method="${method}",outcome="${outcome}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}


test.serial('register, sync and remove sent to the non-owner are served by the owner', async (t) => {
  const { a, b, db } = t.context;
  const userUid = await userOwnedBy(db, b.addr, 'forwarded');
  const account = { userUid, exchange: 'simulated' } as const;
  const identity = await unary(a.client.getEnclaveIdentity.bind(a.client), {});
  const sealed = await sealCredential(identity.hpkePublicKey, account, { apiKey: 'forwarded-key', secret: 'simulated' });
  const registered = await unary(a.client.registerConnection.bind(a.client), { userUid, exchange: 'simulated', sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: 0 });
  t.true(registered.permissionsChecked);

  const before = b.lines.filter((l) => l.includes('sync finished')).length;
  const reply: ProcessSyncJobResponse = await unary(a.client.processSyncJob.bind(a.client), { userUid, exchange: 'simulated', type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline: Date.now() + 60_000 });
  t.true(reply.fillsSynced > 0, 'the owner synced the account');
  t.true(b.lines.filter((l) => l.includes('sync finished')).length > before, 'the owner logged the sync');
  t.false(a.lines.some((l) => l.includes('sync finished')), 'the instance it was sent to never synced');
  t.is(await forwardedCount(a.service, 'RegisterConnection', 'ok'), 1);
  t.is(await forwardedCount(a.service, 'ProcessSyncJob', 'ok'), 1);
  t.is(await forwardedCount(b.service, 'ProcessSyncJob', 'ok'), 0, 'the owner served it itself');

  const removed = await unary(a.client.removeConnection.bind(a.client), { userUid, exchange: 'simulated', keepAggregates: false });
  t.true(removed.removed);
  t.is(await forwardedCount(a.service, 'RemoveConnection', 'ok'), 1);
});

test.serial('a registration challenge asked of the non-owner is issued by the owner (where a forwarded Register goes too)', async (t) => {
  const { a, b, db } = t.context;
  const userUid = await userOwnedBy(db, b.addr, 'challenged');
  const issued = await unary(a.client.getRegistrationChallenge.bind(a.client), { userUid, exchange: 'simulated' });
  t.is(issued.challenge.length, 32);
  t.is(await forwardedCount(a.service, 'GetRegistrationChallenge', 'ok'), 1);
  // Asked of the owner itself: served there, nothing forwarded.
  await unary(b.client.getRegistrationChallenge.bind(b.client), { userUid, exchange: 'simulated' });
  t.is(await forwardedCount(b.service, 'GetRegistrationChallenge', 'ok'), 0);
});

test.serial('a forwarded command is never forwarded again: the receiver that does not own the shard answers UNAVAILABLE with a retry hint', async (t) => {
  const { a, b, db } = t.context;
  const userUid = await userOwnedBy(db, a.addr, 'hop');
  const metadata = new Metadata();
  metadata.set(FORWARDED_KEY, '1');
  const error = await new Promise<ServiceError>((resolve, reject) => {
    b.client.processSyncJob({ userUid, exchange: 'simulated', type: SyncType.SYNC_TYPE_INCREMENTAL }, metadata, { deadline: Date.now() + 20_000 }, (e) => (e === null ? reject(new Error('served')) : resolve(e)));
  });
  t.true(isServiceError(error));
  t.is(error.code, status.UNAVAILABLE);
  t.true(Number(error.metadata.get(RETRY_AFTER_MS_KEY)[0]) > 0);
  t.is(await forwardedCount(b.service, 'ProcessSyncJob', 'ok'), 0);
  t.is(await forwardedCount(b.service, 'ProcessSyncJob', 'refused'), 0);
});

test.serial('each instance\'s metrics show its own shards, its lease renewals and the time it may still act', async (t) => {
  const { a, b, db } = t.context;
  const owners = [...(await ownersByShard(db)).values()];
  for (const instance of [a, b]) {
    const text = await (await fetch(`http://127.0.0.1:${instance.service.metricsPort}/metrics`)).text();
    const value = (name: string): number => Number(text.split('\n').find((l) => l.startsWith(`${name} `))?.split(' ').at(-1));
    t.is(value('enclave_shard_leases_held'), owners.filter((addr) => addr === instance.addr).length);
    t.true(value('enclave_lease_renew_seconds_count') > 0);
    const left = value('enclave_lease_acting_seconds_left');
    // TTL 3 s, acting margin TTL/5: never more than 2.4 s ahead.
    t.true(left > 0 && left <= 2.4, `acting time left ${left}`);
  }
});

test.serial('each instance\'s HealthCheck names the shards it holds, the shard count and its last lease renewal', async (t) => {
  const { a, b, db } = t.context;
  const rows = await db.pool.any(sql.type(z.object({ shard: z.number(), owner_id: z.string(), owner_addr: z.string() }))`
    SELECT shard, owner_id, owner_addr FROM placement WHERE owner_id IS NOT NULL AND expires_at > now() ORDER BY shard`);
  const seen: number[] = [];
  for (const instance of [a, b]) {
    const health = await unary(instance.client.healthCheck.bind(instance.client), {});
    const mine = rows.filter((r) => r.owner_addr === instance.addr);
    t.deepEqual(health.ownedShards, mine.map((r) => r.shard), 'the shards the database says it holds');
    t.is(health.shardCount, SHARDS);
    t.is(health.instanceId, mine[0]?.owner_id ?? 'no shard held');
    t.true(health.lastLeaseRenewMs > 0 && health.lastLeaseRenewMs < 3_000, `last renewal ${health.lastLeaseRenewMs} ms`);
    seen.push(...health.ownedShards);
  }
  t.deepEqual(seen.sort((x, y) => x - y), [0, 1, 2, 3], 'between them every shard, none twice');
});
