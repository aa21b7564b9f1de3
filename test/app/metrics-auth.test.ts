// Issue 14, part 4: /metrics answers only an authenticated scrape, and even then lists no
// customer: the account label is a keyed pseudonym that `Whois` maps back for operators.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpsRequest } from 'node:https';
import { createCa, type Pem } from '../grpc/certificates.js';
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

/** GET /metrics over HTTPS, optionally with a client certificate and a bearer token; the status. */
function scrapeTls(port: number, options: { readonly client?: Pem; readonly token?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/metrics', method: 'GET',
      // The server certificate is the service's in-memory one: pinned in production, not checked here.
      rejectUnauthorized: false,
      ...(options.client === undefined ? {} : { cert: options.client.cert, key: options.client.key }),
      ...(options.token === undefined ? {} : { headers: { authorization: `Bearer ${options.token}` } }),
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('with METRICS_CLIENT_CA, /metrics takes a client certificate of the ops CA (mTLS): anonymous and another CA are refused, the token still works', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'metrics-mtls-'));
  const ops = createCa('ops CA');
  const stranger = createCa('another CA');
  writeFileSync(join(dir, 'ops-ca.pem'), ops.cert);
  const token = randomBytes(24).toString('hex');
  writeFileSync(join(dir, 'token'), token);
  const h = await startServiceHarness({ METRICS_CLIENT_CA: join(dir, 'ops-ca.pem'), METRICS_TOKEN_FILE: join(dir, 'token'), METRICS_HOST: '127.0.0.1', DEMO: 'false', SYNC_INTERVAL_MS: '0' });
  t.teardown(async () => { await h.close(); rmSync(dir, { recursive: true, force: true }); });
  const port = h.service.metricsPort;

  t.is((await scrapeTls(port)).status, 401, 'anonymous');
  t.is((await scrapeTls(port, { client: stranger.issue('prometheus', 'client') })).status, 401, 'a certificate of another CA');
  const good = await scrapeTls(port, { client: ops.issue('prometheus', 'client') });
  t.is(good.status, 200, 'a certificate of the ops CA');
  t.regex(good.body, /enclave_account_actors/u);
  t.is((await scrapeTls(port, { token })).status, 200, 'the bearer token beside it');
  t.is((await scrapeTls(port, { token: 'wrong-token-wrong-token' })).status, 401);
  // Plain HTTP is not served any more on that port.
  await t.throwsAsync(fetch(`http://127.0.0.1:${port}/metrics`).then(async (r) => { if (r.status === 200) throw new Error('served over plain HTTP'); await r.text(); throw new Error(`status ${r.status}`); }));
});
