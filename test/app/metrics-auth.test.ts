// Issue 14, part 4: /metrics answers only an authenticated scrape, and even then lists no
// customer: the account label is a keyed pseudonym that `Whois` maps back for operators.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sealCredential } from '../../src/crypto/sealed-intake.js';
import { SyncType } from '../../src/grpc/generated/enclave.js';
import { unary } from '../../testkit/support/grpc-client.js';
import { startServiceHarness } from './service-harness.js';

// A canary user id: it must appear in no scrape.
const ACCOUNT = { userUid: `canary-${randomBytes(6).toString('hex')}`, exchange: 'simulated' as const };

test('anonymous scrapes get 401, a scrape with the token gets metrics without any account id, and whois maps the label back', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-auth-'));
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'token');
  writeFileSync(tokenFile, `${token}\n`);
  const h = await startServiceHarness({ METRICS_TOKEN_FILE: tokenFile, METRICS_HOST: '127.0.0.1', DEMO: 'false', SYNC_INTERVAL_MS: '0' });
  t.teardown(async () => { await h.close(); rmSync(dir, { recursive: true, force: true }); });
  const url = `http://127.0.0.1:${h.service.metricsPort}/metrics`;

  const identity = await unary(h.client.getEnclaveIdentity.bind(h.client), {});
  const sealed = await sealCredential(identity.hpkePublicKey, ACCOUNT, { apiKey: 'metrics-key', secret: 'metrics-secret' });
  await unary(h.client.registerConnection.bind(h.client), { ...ACCOUNT, sealedCredential: Buffer.from(sealed), acceptTradingKeyRisk: false, disclosureLevel: 0 });
  await unary(h.client.processSyncJob.bind(h.client), { ...ACCOUNT, type: SyncType.SYNC_TYPE_INCREMENTAL }, { deadline: Date.now() + 60_000 });

  const anonymous = await fetch(url);
  t.is(anonymous.status, 401);
  t.is(await anonymous.text(), '');
  t.is((await fetch(url, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status, 401);
  t.is((await fetch(url, { headers: { authorization: token } })).status, 401, 'the scheme is required');

  const scrape = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  t.is(scrape.status, 200);
  const text = await scrape.text();
  t.false(text.includes(ACCOUNT.userUid), 'the account id never appears in a scrape');
  const label = /enclave_account_syncs_total\{account="(acct_[0-9a-f]{32})",result="ok"\} 1/u.exec(text)?.[1];
  if (label === undefined) return t.fail(`no pseudonymous account series in:\n${text.slice(0, 2_000)}`) as never;

  const who = await unary(h.client.whois.bind(h.client), { label });
  t.deepEqual(who, { found: true, userUid: ACCOUNT.userUid, exchange: ACCOUNT.exchange });
  const nobody = await unary(h.client.whois.bind(h.client), { label: `acct_${'0'.repeat(32)}` });
  t.false(nobody.found);
  return undefined;
});
