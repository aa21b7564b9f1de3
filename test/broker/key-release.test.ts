import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import test from 'ava';
import { KeyReleaseError } from '../../src/attestation/errors.js';
import { kbsReportData, KBS_PROTOCOL_VERSION, teePublicKeyOf } from '../../src/attestation/kbs-protocol.js';
import { trusteeSnpReport } from '../../src/attestation/snp-evidence.js';
import { releaseKeys, type KeyReleaseOptions } from '../../src/attestation/key-release.js';
import { canonicalJson } from '../../src/domain/canonical-json.js';
import { deriveEnclaveKeys, parseReleasedSecrets } from '../../src/crypto/key-hierarchy.js';
import { milanTcb, testSigningKey, signSyntheticReport, type SyntheticReportFields } from '../../testkit/attestation/synthetic-report.js';
import { RESOURCE_PATH, startTestBroker, startTestGuest, type TestBroker } from '../../testkit/attestation/test-broker.js';
import { testAmdChain } from '../../testkit/attestation/test-amd-chain.js';

const HOST_DATA = createHash('sha256').update('approved configuration').digest();

function options(broker: TestBroker, tsmRoot: string, overrides: Partial<KeyReleaseOptions> = {}): KeyReleaseOptions {
  return {
    brokerUrl: broker.broker.url,
    brokerCertSha256: broker.broker.certSha256 ?? '',
    resourcePath: RESOURCE_PATH,
    tsm: { root: tsmRoot },
    expectedHostData: HOST_DATA,
    ...overrides,
  };
}

test('the runtime-data hash is Trustee\'s: RFC 8785 JSON, SHA-384 (fixture from trustee attestation-service/src/lib.rs tests)', (t) => {
  const text = canonicalJson({ b: 1, a: 'test', c: { d: 'e' } });
  t.is(createHash('sha384').update(text).digest('hex'), 'e71ce8e70d814ba6639c3612ebee0ff1f76f650f8dbb5e47157e0f3f525cd22c4597480a186427c813ca941da78870c3');
  const jwk = teePublicKeyOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const data = kbsReportData('bm9uY2U=', jwk);
  t.is(data.length, 64);
  t.deepEqual(data.subarray(48), Buffer.alloc(16));
});

test('two instances released by the same broker derive the same intake key; the broker sees a fresh report each time', async (t) => {
  const broker = await startTestBroker(HOST_DATA);
  const guest = await startTestGuest(broker.chain, { hostData: HOST_DATA });
  t.teardown(async () => {
    await guest.stop();
    await broker.close();
  });
  const first = await releaseKeys(options(broker, guest.root));
  const second = await releaseKeys(options(broker, guest.root));
  const [a, b] = await Promise.all([deriveEnclaveKeys(parseReleasedSecrets(first.resource)), deriveEnclaveKeys(parseReleasedSecrets(second.resource))]);
  t.deepEqual(a.intake.publicKey, b.intake.publicKey);
  t.deepEqual(a.intake.keyId, b.intake.keyId);
  t.is(broker.broker.released(), 2);
  t.is(guest.inblobs.length, 2);
  t.notDeepEqual(guest.inblobs[0], guest.inblobs[1], 'each release binds a new nonce and a new ephemeral key');
  t.deepEqual(parseReleasedSecrets(first.resource).secrets.get(1), broker.rootSecret);
});

test('the enclave refuses a broker that does not present the pinned certificate, and a guest whose HOST_DATA is not its configuration', async (t) => {
  const broker = await startTestBroker(HOST_DATA);
  const guest = await startTestGuest(broker.chain, { hostData: HOST_DATA });
  const otherGuest = await startTestGuest(broker.chain, { hostData: Buffer.alloc(32, 9) });
  t.teardown(async () => {
    await guest.stop();
    await otherGuest.stop();
    await broker.close();
  });
  await t.throwsAsync(releaseKeys(options(broker, guest.root, { brokerCertSha256: 'ab'.repeat(32) })), { instanceOf: KeyReleaseError, message: /pinned certificate/u });
  await t.throwsAsync(releaseKeys(options(broker, otherGuest.root)), { instanceOf: KeyReleaseError, message: /HOST_DATA/u });
  t.is(broker.broker.released(), 0);
});

/** Plays a guest by hand: auth, a report built by `forge` for the challenge, attest, fetch the resource; returns the statuses. */
async function attestByHand(broker: TestBroker, forge: (reportData: Buffer) => { report: Buffer; vcekPem?: string }): Promise<{ attest: number; resource: number }> {
  const { request } = await import('node:https');
  const call = (method: string, path: string, body: unknown, cookie: string | null): Promise<{ status: number; json: unknown; setCookie: string[] }> =>
    new Promise((resolve, reject) => {
      const req = request(new URL(path, broker.broker.url), { method, rejectUnauthorized: false, headers: { 'content-type': 'application/json', ...(cookie === null ? {} : { cookie }) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') as unknown, setCookie: res.headers['set-cookie'] ?? [] }));
      });
      req.on('error', reject);
      req.end(body === undefined ? undefined : JSON.stringify(body));
    });
  const auth = await call('POST', '/kbs/v0/auth', { version: KBS_PROTOCOL_VERSION, tee: 'snp', 'extra-params': '' }, null);
  const cookie = auth.setCookie[0]!.split(';')[0]!;
  const nonce = (auth.json as { nonce: string }).nonce;
  const teePubkey = teePublicKeyOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey);
  const { report, vcekPem } = forge(kbsReportData(nonce, teePubkey));
  const attest = await call('POST', '/kbs/v0/attest', {
    'runtime-data': { nonce, 'tee-pubkey': teePubkey },
    'tee-evidence': {
      primary_evidence: { attestation_report: trusteeSnpReport(report), cert_chain: vcekPem === undefined ? null : [{ cert_type: 'VCEK', data: [...new X509Certificate(vcekPem).raw] }] },
      additional_evidence: '',
    },
  }, cookie);
  const resource = await call('GET', `/kbs/v0/resource/${RESOURCE_PATH}`, undefined, cookie);
  return { attest: attest.status, resource: resource.status };
}

test('the broker refuses forged reports: unsigned, self-signed VCEK, debug, VMPL 3, old TCB, wrong HOST_DATA, stale nonce, wrong measurement', async (t) => {
  const broker = await startTestBroker(HOST_DATA);
  t.teardown(() => broker.close());
  const { chain } = broker;
  const good = (reportData: Buffer, fields: SyntheticReportFields = {}): Buffer => chain.report({ hostData: HOST_DATA, reportData, ...fields });
  t.deepEqual(await attestByHand(broker, (reportData) => ({ report: good(reportData) })), { attest: 200, resource: 200 }, 'the genuine report passes');

  const selfSigned = await testAmdChain({ tcb: { bootLoader: 3, tee: 0, snp: 8, microcode: 115 } });
  const forgeries: Record<string, (reportData: Buffer) => { report: Buffer; vcekPem?: string }> = {
    'no VCEK signature': (reportData) => {
      const report = good(reportData);
      report.fill(0, 0x2a0);
      return { report };
    },
    'a self-made VCEK': (reportData) => ({ report: selfSigned.report({ hostData: HOST_DATA, reportData }), vcekPem: selfSigned.vcek.toString() }),
    'signed by an unknown key': (reportData) => {
      const report = good(reportData);
      signSyntheticReport(report, testSigningKey().privateKey);
      return { report };
    },
    'debug policy': (reportData) => ({ report: good(reportData, { policy: 0x30000n | (1n << 19n) }) }),
    'migration agent': (reportData) => ({ report: good(reportData, { policy: 0x30000n | (1n << 18n) }) }),
    'VMPL 3': (reportData) => ({ report: good(reportData, { vmpl: 3 }) }),
    'old TCB': (reportData) => ({ report: good(reportData, { currentTcb: milanTcb(3, 0, 7, 115) }) }),
    'wrong HOST_DATA': (reportData) => ({ report: good(reportData, { hostData: Buffer.alloc(32, 1) }) }),
    'stale nonce': () => ({ report: good(kbsReportData('c3RhbGU=', teePublicKeyOf(generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey))) }),
    'wrong measurement': (reportData) => ({ report: good(reportData, { measurement: Buffer.alloc(48, 0x5b) }) }),
  };
  for (const [name, forge] of Object.entries(forgeries)) {
    t.deepEqual(await attestByHand(broker, forge), { attest: 401, resource: 401 }, name);
  }
  t.is(broker.broker.released(), 1, 'only the genuine report got the secret');
});

test('a release without a reachable broker fails with KeyReleaseError', async (t) => {
  const chain = await testAmdChain();
  const guest = await startTestGuest(chain, { hostData: HOST_DATA });
  t.teardown(() => guest.stop());
  await t.throwsAsync(
    releaseKeys({ brokerUrl: 'https://127.0.0.1:9', brokerCertSha256: 'ab'.repeat(32), resourcePath: RESOURCE_PATH, tsm: { root: guest.root }, expectedHostData: HOST_DATA, timeoutMs: 2_000 }),
    { instanceOf: KeyReleaseError },
  );
});
