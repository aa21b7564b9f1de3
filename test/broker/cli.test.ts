import { statSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { runBrokerCommand } from '../../src/broker/main.js';
import { BrokerPolicyError } from '../../src/broker/errors.js';
import { loadBrokerPolicy } from '../../src/broker/policy.js';
import { loadConfig } from '../../src/config/config.js';
import { measuredConfiguration } from '../../src/config/measured-config.js';
import { parseReleasedSecrets } from '../../src/crypto/key-hierarchy.js';
import { TEST_MEASUREMENT } from '../../testkit/attestation/synthetic-report.js';
import { testAmdChain } from '../../testkit/attestation/test-amd-chain.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = runBrokerCommand(argv, { out: (line) => out.push(line), err: (line) => err.push(line), env });
  return { code, out, err };
}

test('host-data prints the HOST_DATA of the configuration in the environment (the caller\'s own NODE_* variables aside); new-secret writes a 0600 resource', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'broker-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, 'gateway ca');
  const env = {
    ENCLAVE_MODE: 'true', AMD_SEV_SNP: 'true', TLS_CA_FILE: caFile, KEY_BROKER_URL: 'https://broker.example', KEY_BROKER_CERT_SHA256: 'ab'.repeat(32),
    DATABASE_URL: 'postgresql://u:pw@db.example/t?sslmode=verify-full',
  };
  const result = run(['host-data'], { ...env, NODE_OPTIONS: '--max-old-space-size=100' });
  t.is(result.code, 0, result.err.join('\n'));
  t.is(result.out[0], measuredConfiguration(loadConfig(env, []), Buffer.from('gateway ca')).hostData.toString('hex'));
  t.false(result.err.join('\n').includes('pw'), 'the document carries no password');
  const file = join(dir, 'root-secrets.json');
  t.is(run(['new-secret', '--out', file]).code, 0);
  t.is(statSync(file).mode & 0o777, 0o600);
  t.is(parseReleasedSecrets(readFileSync(file)).secrets.get(1)?.length, 32);
  const again = run(['new-secret', '--out', file]);
  t.is(again.code, 2, 'an existing secret is never overwritten');
  t.regex(again.err.join('\n'), /never overwritten/u);
});

test('a policy file loads with its files relative to it, and a bad one is refused by name', async (t) => {
  const chain = await testAmdChain();
  const dir = mkdtempSync(join(tmpdir(), 'broker-policy-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'cert_chain.pem'), `${chain.ask.toString()}${chain.ark.toString()}`);
  writeFileSync(join(dir, 'secret.json'), '{}');
  const policy = { measurements: [TEST_MEASUREMENT.toString('hex')], hostData: '00'.repeat(32), endorsements: { certChain: 'cert_chain.pem' }, resources: { 'a/b/c': 'secret.json' } };
  writeFileSync(join(dir, 'policy.json'), JSON.stringify(policy));
  const loaded = loadBrokerPolicy(join(dir, 'policy.json'));
  t.is(loaded.endorsements.ark.fingerprint256, chain.ark.fingerprint256);
  t.is(loaded.attestation.vmpl, 0);
  t.false(loaded.attestation.allowDebug);
  writeFileSync(join(dir, 'policy.json'), JSON.stringify({ ...policy, allowDebug: true }));
  t.throws(() => loadBrokerPolicy(join(dir, 'policy.json')), { instanceOf: BrokerPolicyError });
});
