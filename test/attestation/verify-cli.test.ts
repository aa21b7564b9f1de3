import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { attestationReportData } from '../../src/attestation/binding.js';
import { runVerifyAttestation } from '../../src/cli/verify-attestation.js';
import { TEST_MEASUREMENT } from '../../testkit/attestation/synthetic-report.js';
import { testAmdChain } from '../../testkit/attestation/test-amd-chain.js';

function run(argv: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = runVerifyAttestation(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err };
}

test('the CLI accepts a genuine report (exit 0) and rejects a stale nonce, another build hash or a missing VCEK', async (t) => {
  const chain = await testAmdChain();
  const dir = await mkdtemp(path.join(tmpdir(), 'verify-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const nonce = randomBytes(32);
  const enclavePublicKey = randomBytes(32);
  const buildHash = randomBytes(32);
  const reportData = attestationReportData({ nonce, enclavePublicKey, tlsCertificateFingerprint: null, buildHash });
  const files = {
    report: path.join(dir, 'report.hex'),
    vcek: path.join(dir, 'vcek.pem'),
    chain: path.join(dir, 'cert_chain.pem'),
    crl: path.join(dir, 'crl.der'),
  };
  await writeFile(files.report, `${chain.report({ reportData }).toString('hex')}\n`);
  await writeFile(files.vcek, chain.vcek.toString());
  await writeFile(files.chain, `${chain.ask.toString()}${chain.ark.toString()}`);
  await writeFile(files.crl, await chain.crl([]));
  const args = (n: Buffer, build: Buffer = buildHash): string[] => [
    '--report', files.report, '--measurement', TEST_MEASUREMENT.toString('hex'),
    '--vcek', files.vcek, '--cert-chain', files.chain, '--crl', files.crl,
    '--trusted-ark-sha256', chain.ark.fingerprint256,
    '--nonce', n.toString('hex'), '--public-key', enclavePublicKey.toString('base64'), '--no-tls',
    '--host-data', Buffer.alloc(32, 0x33).toString('hex'), '--min-tcb', '3.0.8.115', '--build-hash', build.toString('hex'),
  ];
  const good = run(args(nonce));
  t.is(good.code, 0, good.out.join('\n'));
  t.is(good.out.at(-1), 'ACCEPTED');
  const stale = run(args(randomBytes(32)));
  t.is(stale.code, 1);
  t.true(stale.out.some((line) => line.startsWith('FAIL') && line.includes('report-data')));
  const otherBuild = run(args(nonce, randomBytes(32)));
  t.is(otherBuild.code, 1);
  t.true(otherBuild.out.some((line) => line.startsWith('FAIL') && line.includes('report-data')));
  const unbuilt = run(args(nonce).slice(0, -2));
  t.is(unbuilt.code, 1, 'without --build-hash the report must bind the empty (unbuilt) build hash');
  const noPins = run([...args(nonce).slice(0, 10), ...args(nonce).slice(12)]);
  t.is(noPins.code, 1, 'the test root is not AMD’s: without the explicit pin the chain fails');
  const noVcek = run(['--report', files.report, '--measurement', TEST_MEASUREMENT.toString('hex'), '--no-tls']);
  t.is(noVcek.code, 2);
  t.regex(noVcek.err.join('\n'), /--vcek is required/u);
  const json = JSON.parse(run([...args(nonce), '--json']).out[0]!) as { verdict: string };
  t.is(json.verdict, 'accepted');
});
