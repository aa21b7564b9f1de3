// RegisterConnection, RemoveConnection, ListConnections, GetEnclaveIdentity and GetAttestation
// against the real service (PostgreSQL, actors, gRPC) with the `simulated` venue.
import { z } from 'zod';
import { sql } from 'slonik';
import anyTest, { type TestFn } from 'ava';
import { status } from '@grpc/grpc-js';
import { createEnclaveIdentity } from '../../src/attestation/identity.js';
import { sealCredential } from '../../src/crypto/sealed-intake.js';
import { attestationReportData } from '../../src/attestation/binding.js';
import { openEnvelope } from '../../src/crypto/envelope.js';
import type { AccountKey } from '../../src/domain/types.js';
import { ConnectionStatus, SyncType } from '../../src/grpc/generated/enclave.js';
import { isServiceError, unary } from '../../testkit/support/grpc-client.js';
import { startFakeConfigfs, type FakeConfigfs } from '../../testkit/attestation/fake-configfs.js';
import { TEST_MEASUREMENT } from '../../testkit/attestation/synthetic-report.js';
import { accountRowCounts, startServiceHarness, type ServiceHarness } from './service-harness.js';

const test = anyTest as TestFn<{ h: ServiceHarness; tsm: FakeConfigfs }>;

const CANARY_KEY = 'CANARY-KEY-7d1f3a';
const CANARY_SECRET = 'CANARY-SECRET-9b2c44e1';

test.before(async (t) => {
  const tsm = await startFakeConfigfs({ report: { measurement: TEST_MEASUREMENT } });
  t.context = { tsm, h: await startServiceHarness({ TSM_REPORT_ROOT: tsm.root }) };
});
test.after.always(async (t) => {
  await t.context.h?.close();
  await t.context.tsm?.stop();
});

async function publicKey(h: ServiceHarness): Promise<Uint8Array> {
  return (await unary(h.client.getEnclaveIdentity.bind(h.client), {})).hpkePublicKey;
}

async function register(h: ServiceHarness, account: AccountKey, sealed: Uint8Array) {
  return unary(h.client.registerConnection.bind(h.client), { userUid: account.userUid, exchange: account.exchange, sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: 0 });
}

async function refusal(t: { fail(message: string): void }, promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await promise;
  } catch (error) {
    if (isServiceError(error)) return { code: error.code, details: error.details };
    throw error;
  }
  t.fail('expected the call to be refused');
  return { code: -1, details: '' };
}

function leaks(h: ServiceHarness): string[] {
  return h.lines.filter((line) => line.includes(CANARY_KEY) || line.includes(CANARY_SECRET));
}

test.serial('GetEnclaveIdentity serves the identity created at start', async (t) => {
  const { h } = t.context;
  const reply = await unary(h.client.getEnclaveIdentity.bind(h.client), {});
  t.deepEqual(Buffer.from(reply.hpkePublicKey), h.service.identity.publicKey);
  t.is(reply.hpkePublicKey.length, 32);
  t.is(reply.serviceVersion, h.service.identity.serviceVersion);
  t.is(reply.buildHash, 'unbuilt');
});

test.serial('a credential sealed for the account is stored as an envelope and listed as active', async (t) => {
  const { h } = t.context;
  const account: AccountKey = { userUid: 'intake-ok', exchange: 'simulated' };
  const sealed = await sealCredential(await publicKey(h), account, { apiKey: CANARY_KEY, secret: CANARY_SECRET });
  const reply = await register(h, account, sealed);
  t.is(reply.status, ConnectionStatus.CONNECTION_STATUS_ACTIVE);
  t.true(reply.permissionsChecked, 'the simulated venue reports permissions');
  const stored = (await accountRowCounts(h.db, account.userUid, account.exchange));
  t.is(stored['exchange_connections'], 1);
  // The stored envelope opens with the service's keyring to exactly the credential sent.
  const pg = await import('pg');
  const c = new pg.default.Client({ connectionString: h.db.url });
  await c.connect();
  const { rows } = await c.query<{ envelope: Buffer }>(`SELECT envelope FROM exchange_connections WHERE user_uid = $1`, [account.userUid]);
  await c.end();
  const envelope = rows[0]?.envelope;
  if (envelope === undefined) return t.fail('no envelope');
  t.false(envelope.includes(Buffer.from(CANARY_SECRET)), 'the secret is not stored in clear');
  const plain = openEnvelope(h.service.keyring, account, envelope);
  t.deepEqual(JSON.parse(plain.toString('utf8')), { apiKey: CANARY_KEY, secret: CANARY_SECRET });
  plain.fill(0);
  const { connections } = await unary(h.client.listConnections.bind(h.client), {});
  t.true(connections.some((x) => x.userUid === account.userUid && x.exchange === 'simulated' && x.status === ConnectionStatus.CONNECTION_STATUS_ACTIVE));
  t.deepEqual(leaks(h), []);
});

test.serial('a credential sealed for another account is refused with INVALID_ARGUMENT and nothing is stored', async (t) => {
  const { h } = t.context;
  const sealed = await sealCredential(await publicKey(h), { userUid: 'someone-else', exchange: 'simulated' }, { apiKey: CANARY_KEY, secret: CANARY_SECRET });
  const refused = await refusal(t, register(h, { userUid: 'intake-wrong-account', exchange: 'simulated' }, sealed));
  t.is(refused.code, status.INVALID_ARGUMENT);
  t.regex(refused.details, /cannot be opened/u);
  t.is((await accountRowCounts(h.db, 'intake-wrong-account', 'simulated'))['exchange_connections'], 0);
  t.is((await accountRowCounts(h.db, 'someone-else', 'simulated'))['exchange_connections'], 0);
  // Another exchange for the same user is another account too.
  const otherVenue = await sealCredential(await publicKey(h), { userUid: 'intake-wrong-account', exchange: 'binance' }, { apiKey: CANARY_KEY, secret: CANARY_SECRET });
  t.is((await refusal(t, register(h, { userUid: 'intake-wrong-account', exchange: 'simulated' }, otherVenue))).code, status.INVALID_ARGUMENT);
  t.deepEqual(leaks(h), []);
});

test.serial('a credential sealed to another enclave key is refused and nothing is stored', async (t) => {
  const { h } = t.context;
  const other = await createEnclaveIdentity({ serviceVersion: 'x', buildHash: 'x' });
  const account: AccountKey = { userUid: 'intake-wrong-key', exchange: 'simulated' };
  const sealed = await sealCredential(other.publicKey, account, { apiKey: CANARY_KEY, secret: CANARY_SECRET });
  const refused = await refusal(t, register(h, account, sealed));
  t.is(refused.code, status.INVALID_ARGUMENT);
  t.is((await accountRowCounts(h.db, account.userUid, account.exchange))['exchange_connections'], 0);
});

test.serial('a tampered sealed credential is refused and nothing is stored', async (t) => {
  const { h } = t.context;
  const account: AccountKey = { userUid: 'intake-tampered', exchange: 'simulated' };
  const key = await publicKey(h);
  for (const at of [0, 5, 40, -1]) {
    const sealed = await sealCredential(key, account, { apiKey: CANARY_KEY, secret: CANARY_SECRET });
    const index = at < 0 ? sealed.length + at : at;
    sealed[index] = (sealed[index] ?? 0) ^ 0x01;
    const refused = await refusal(t, register(h, account, sealed));
    t.is(refused.code, status.INVALID_ARGUMENT, `byte ${at}`);
  }
  const truncated = (await sealCredential(key, account, { apiKey: CANARY_KEY, secret: CANARY_SECRET })).subarray(0, 40);
  t.is((await refusal(t, register(h, account, truncated))).code, status.INVALID_ARGUMENT);
  t.is((await refusal(t, register(h, account, new Uint8Array(0)))).code, status.INVALID_ARGUMENT);
  t.is((await accountRowCounts(h.db, account.userUid, account.exchange))['exchange_connections'], 0);
});

test.serial('a key the venue reports with trading rights is refused with the reason and nothing is stored', async (t) => {
  const { h } = t.context;
  const account: AccountKey = { userUid: 'intake-trading', exchange: 'simulated' };
  // The demo venue reports spot trading for keys named trading-… (src/exchanges/registry.ts).
  const sealed = await sealCredential(await publicKey(h), account, { apiKey: `trading-${CANARY_KEY}`, secret: CANARY_SECRET });
  const refused = await refusal(t, register(h, account, sealed));
  t.is(refused.code, status.INVALID_ARGUMENT);
  t.regex(refused.details, /trading rights \(spot_trade\)/u);
  t.false(refused.details.includes(CANARY_KEY));
  t.is((await accountRowCounts(h.db, account.userUid, account.exchange))['exchange_connections'], 0);
  t.deepEqual(leaks(h), []);
});

async function connectAndSync(h: ServiceHarness, account: AccountKey): Promise<void> {
  await register(h, account, await sealCredential(await publicKey(h), account, { apiKey: 'demo', secret: 'demo' }));
  const reply = await unary(h.client.processSyncJob.bind(h.client), { userUid: account.userUid, exchange: account.exchange, type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline: Date.now() + 110_000 });
  if (reply.fillsSynced === 0) throw new Error('the simulated account synced no fills');
}

// Fills, cash flows, cursors and engine state live sealed (sealed_pages, sealed_index, sealed_records).
const PRIVATE = ['exchange_connections', 'sealed_pages', 'sealed_index', 'sealed_records'] as const;

test.serial('RemoveConnection deletes the credential, fills, cash flows, cursors, engine state and aggregates', async (t) => {
  const { h } = t.context;
  const account: AccountKey = { userUid: 'remove-all', exchange: 'simulated' };
  const bystander: AccountKey = { userUid: 'remove-bystander', exchange: 'simulated' };
  await connectAndSync(h, account);
  await connectAndSync(h, bystander);
  const before = await accountRowCounts(h.db, account.userUid, account.exchange);
  for (const table of [...PRIVATE, 'hourly_returns', 'balance_snapshots']) t.true((before[table] ?? 0) > 0, `${table} had rows`);
  const reply = await unary(h.client.removeConnection.bind(h.client), { userUid: account.userUid, exchange: account.exchange, keepAggregates: false });
  t.true(reply.removed);
  const after = await accountRowCounts(h.db, account.userUid, account.exchange);
  for (const table of Object.keys(after)) t.is(after[table], 0, `${table} is empty for the account`);
  t.not(h.service.runtime.supervisor.status(account), 'alive', 'the actor is stopped');
  // Other accounts keep everything.
  const other = await accountRowCounts(h.db, bystander.userUid, bystander.exchange);
  for (const table of Object.keys(other)) t.true((other[table] ?? 0) > 0, `bystander ${table}`);
  // Asking about the removed account now finds nothing, and removing again says so.
  const metrics = await refusal(t, unary(h.client.getAggregatedMetrics.bind(h.client), { userUid: account.userUid, exchange: account.exchange }));
  t.is(metrics.code, status.NOT_FOUND);
  t.false((await unary(h.client.removeConnection.bind(h.client), { userUid: account.userUid, exchange: account.exchange, keepAggregates: false })).removed);
  const { connections } = await unary(h.client.listConnections.bind(h.client), {});
  t.false(connections.some((x) => x.userUid === account.userUid));
});

test.serial('RemoveConnection with keep_aggregates keeps hourly returns and snapshots and nothing private', async (t) => {
  const { h } = t.context;
  const account: AccountKey = { userUid: 'remove-keep', exchange: 'simulated' };
  await connectAndSync(h, account);
  const before = await accountRowCounts(h.db, account.userUid, account.exchange);
  const reply = await unary(h.client.removeConnection.bind(h.client), { userUid: account.userUid, exchange: account.exchange, keepAggregates: true });
  t.true(reply.removed);
  const after = await accountRowCounts(h.db, account.userUid, account.exchange);
  // The kept aggregates keep their sealed exact amounts (sql/016) and the one sealed record that
  // commits to them (kind 'amounts'): nothing else of sealed_records.
  for (const table of PRIVATE) t.is(after[table], table === 'sealed_records' ? 1 : 0, `${table} is empty`);
  const kinds = await h.db.pool.anyFirst(sql.type(z.object({ kind: z.string() }))`
    SELECT kind FROM sealed_records WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
  t.deepEqual(kinds, ['amounts']);
  t.is(after['hourly_returns'], before['hourly_returns']);
  t.is(after['balance_snapshots'], before['balance_snapshots']);
});

test.serial('GetAttestation returns a report whose report data binds the nonce, the enclave key, the (unbuilt, empty) build hash and the statement-signing key, byte for byte', async (t) => {
  const { h } = t.context;
  const nonce = Buffer.from('00112233445566778899aabbccddeeff0123456789abcdef', 'hex');
  const reply = await unary(h.client.getAttestation.bind(h.client), { nonce });
  const { statementSigningKey } = await unary(h.client.getEnclaveIdentity.bind(h.client), {});
  t.is(statementSigningKey.byteLength, 32);
  const expected = attestationReportData({ nonce, enclavePublicKey: h.service.identity.publicKey, tlsCertificateFingerprint: null, buildHash: null, statementSigningKey });
  t.notDeepEqual(attestationReportData({ nonce, enclavePublicKey: h.service.identity.publicKey, tlsCertificateFingerprint: null, buildHash: null }), expected, 'the key changes the binding');
  t.deepEqual(Buffer.from(reply.reportData), expected);
  t.deepEqual(Buffer.from(reply.report).subarray(0x50, 0x90), expected, 'REPORT_DATA inside the raw report');
  t.deepEqual(t.context.tsm.inblobs.at(-1), expected, 'what was written to inblob');
  t.deepEqual(Buffer.from(reply.measurement), TEST_MEASUREMENT);
  t.is(reply.report.length, 1184);
  t.truthy(reply.policy);
  t.truthy(reply.reportedTcb);
  const short = await refusal(t, unary(h.client.getAttestation.bind(h.client), { nonce: Buffer.alloc(4) }));
  t.is(short.code, status.INVALID_ARGUMENT);
});

test.serial('GetAttestation without an SEV-SNP device answers FAILED_PRECONDITION with the reason', async (t) => {
  const h = await startServiceHarness();
  t.teardown(() => h.close());
  const refused = await refusal(t, unary(h.client.getAttestation.bind(h.client), { nonce: Buffer.alloc(32, 1) }));
  t.is(refused.code, status.FAILED_PRECONDITION);
  t.regex(refused.details, /no SEV-SNP attestation device.*AMD_SEV_SNP is not true/u);
});

async function challengeFor(h: ServiceHarness, account: AccountKey): Promise<Buffer> {
  const reply = await unary(h.client.getRegistrationChallenge.bind(h.client), { userUid: account.userUid, exchange: account.exchange });
  assertChallengeLength(reply.challenge);
  return Buffer.from(reply.challenge);
}

function assertChallengeLength(challenge: Uint8Array): void {
  if (challenge.byteLength !== 32) throw new Error('a registration challenge is 32 bytes');
}

test.serial('a replayed sealed blob is refused with INVALID_ARGUMENT: its registration challenge was used by the first Register', async (t) => {
  const { h } = t.context;
  const account: AccountKey = { userUid: 'intake-replay', exchange: 'simulated' };
  const sealed = await sealCredential(await publicKey(h), account, { apiKey: CANARY_KEY, secret: CANARY_SECRET }, { challenge: await challengeFor(h, account) });
  t.is((await register(h, account, sealed)).status, ConnectionStatus.CONNECTION_STATUS_ACTIVE);
  // The account is removed, then the recorded blob is sent again: it must not bring the key back.
  await unary(h.client.removeConnection.bind(h.client), { userUid: account.userUid, exchange: account.exchange, keepAggregates: false });
  const replayed = await refusal(t, register(h, account, sealed));
  t.is(replayed.code, status.INVALID_ARGUMENT);
  t.regex(replayed.details, /registration challenge \(unknown, expired or already used\)/u);
  t.is((await accountRowCounts(h.db, account.userUid, account.exchange))['exchange_connections'], 0);
  t.deepEqual(leaks(h), []);
});

test.serial('a blob bound to a challenge the enclave never issued, or issued for another account, is refused', async (t) => {
  const { h } = t.context;
  const account: AccountKey = { userUid: 'intake-forged-challenge', exchange: 'simulated' };
  const key = await publicKey(h);
  const invented = await sealCredential(key, account, { apiKey: CANARY_KEY, secret: CANARY_SECRET }, { challenge: Buffer.alloc(32, 0x42) });
  t.is((await refusal(t, register(h, account, invented))).code, status.INVALID_ARGUMENT);
  const othersChallenge = await challengeFor(h, { userUid: 'someone-else', exchange: 'simulated' });
  const borrowed = await sealCredential(key, account, { apiKey: CANARY_KEY, secret: CANARY_SECRET }, { challenge: othersChallenge });
  t.is((await refusal(t, register(h, account, borrowed))).code, status.INVALID_ARGUMENT);
  t.is((await accountRowCounts(h.db, account.userUid, account.exchange))['exchange_connections'], 0);
});
