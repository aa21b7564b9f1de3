import test from 'ava';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/config.js';
import { canonicalJson, measuredConfiguration } from '../../src/config/measured-config.js';

const key = 'a'.repeat(64);

test('defaults apply when nothing is configured', (t) => {
  const config = loadConfig({});
  t.is(config.ENCLAVE_PORT, 50051);
  t.false(config.ENCLAVE_MODE);
  t.is(config.DATABASE_URL, undefined);
  t.is(config.LARGE_FLOW_SHARE, 0.1);
});

test('LARGE_FLOW_SHARE is a share in [0, 1]: outside it, or not a number, is refused by name', (t) => {
  t.is(loadConfig({ LARGE_FLOW_SHARE: '0.25' }).LARGE_FLOW_SHARE, 0.25);
  t.is(loadConfig({ LARGE_FLOW_SHARE: '0' }).LARGE_FLOW_SHARE, 0);
  for (const bad of ['-0.1', '1.5', 'ten']) {
    const error = t.throws(() => loadConfig({ LARGE_FLOW_SHARE: bad }), { instanceOf: ConfigError });
    t.regex(error!.message, /LARGE_FLOW_SHARE/u);
    t.false(error!.message.includes(bad));
  }
});

test('a malformed key is reported by name without echoing its value', (t) => {
  const secret = 'zz-canary-not-hex-0123456789';
  const error = t.throws(() => loadConfig({ ENCRYPTION_KEY: secret, ENCLAVE_PORT: '99999' }), { instanceOf: ConfigError });
  t.truthy(error);
  t.regex(error!.message, /ENCRYPTION_KEY: expected 64 hex characters/u);
  t.regex(error!.message, /ENCLAVE_PORT/u);
  t.false(error!.message.includes(secret));
});

const enclaveEnv = {
  ENCLAVE_MODE: 'true',
  AMD_SEV_SNP: 'true',
  TLS_CA_FILE: 'gateway-ca.pem',
  KEY_BROKER_URL: 'https://broker.example:8080',
  KEY_BROKER_CERT_SHA256: 'ab'.repeat(32),
  DATABASE_URL: 'postgresql://enclave_user:pw@db.example:5432/track?sslmode=verify-full',
};

test('enclave mode holds no secret in its environment: ENCRYPTION_KEY(S), TLS key files are refused; the broker, its pin and the gateway CA are required', (t) => {
  t.notThrows(() => loadConfig(enclaveEnv, []));
  const error = t.throws(() => loadConfig({ ...enclaveEnv, ENCRYPTION_KEY: key, ENCRYPTION_KEYS: `2:${key}`, TLS_CERT_FILE: 'c', TLS_KEY_FILE: 'k' }, []), { instanceOf: ConfigError });
  t.deepEqual(error!.problems.map((p) => p.split(':')[0]), ['ENCRYPTION_KEY', 'ENCRYPTION_KEYS', 'TLS_CERT_FILE', 'TLS_KEY_FILE']);
  const missing = t.throws(() => loadConfig({ ENCLAVE_MODE: 'true', AMD_SEV_SNP: 'true', KEY_BROKER_URL: 'http://broker.example' }, []), { instanceOf: ConfigError });
  t.deepEqual(missing!.problems.map((p) => p.split(':')[0]), ['TLS_CA_FILE', 'KEY_BROKER_URL', 'KEY_BROKER_CERT_SHA256', 'DATABASE_URL']);
  const plainDb = t.throws(() => loadConfig({ ...enclaveEnv, DATABASE_URL: 'postgresql://u@db.example/track' }, []), { instanceOf: ConfigError });
  t.regex(plainDb!.message, /sslmode=verify-full/u);
});

test('enclave mode refuses to start with NODE_OPTIONS, NODE_PATH, NODE_EXTRA_CA_CERTS or a code-loading node flag', (t) => {
  const error = t.throws(
    () => loadConfig({ ...enclaveEnv, NODE_OPTIONS: '--import=./x.mjs', NODE_PATH: '/tmp', NODE_EXTRA_CA_CERTS: '/tmp/ca.pem', LD_PRELOAD: '/tmp/x.so' }, ['--import=./canary-x.mjs', '--max-old-space-size=512']),
    { instanceOf: ConfigError },
  );
  t.deepEqual(error!.problems.map((p) => p.split(':')[0]), ['NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'LD_PRELOAD', 'node flags']);
  t.false(error!.message.includes('canary'), 'flag values are not echoed');
  t.notThrows(() => loadConfig(enclaveEnv, ['--max-semi-space-size=32']));
  // Outside enclave mode these are the developer's business.
  t.notThrows(() => loadConfig({ NODE_OPTIONS: '--import=./x.mjs' }, ['--import=tsx']));
});

test('VENUE_RATE_LIMIT_MS (test pacing of venue requests) is refused in enclave mode and read as a number outside it', (t) => {
  const error = t.throws(() => loadConfig({ ...enclaveEnv, VENUE_RATE_LIMIT_MS: '0' }, []), { instanceOf: ConfigError });
  t.regex(error!.message, /VENUE_RATE_LIMIT_MS: not allowed when ENCLAVE_MODE=true/u);
  t.is(loadConfig({ VENUE_RATE_LIMIT_MS: '0' }, []).VENUE_RATE_LIMIT_MS, 0);
  t.is(loadConfig({}, []).VENUE_RATE_LIMIT_MS, undefined);
});

test('AMD_SEV_SNP=true implies enclave mode, and enclave mode needs AMD_SEV_SNP', (t) => {
  const error = t.throws(() => loadConfig({ AMD_SEV_SNP: 'true' }, []), { instanceOf: ConfigError });
  t.regex(error!.message, /AMD_SEV_SNP: true requires ENCLAVE_MODE=true/u);
  const other = t.throws(() => loadConfig({ ...enclaveEnv, AMD_SEV_SNP: 'false' }, []), { instanceOf: ConfigError });
  t.regex(other!.message, /AMD_SEV_SNP: must be true/u);
});

test('HOST_DATA changes with every measured setting and not with the database password or the log level', (t) => {
  const ca = Buffer.from('gateway CA');
  const base = measuredConfiguration(loadConfig(enclaveEnv, []), ca).hostData;
  t.is(base.length, 32);
  const same = (env: Record<string, string>, gatewayCa = ca): boolean => measuredConfiguration(loadConfig({ ...enclaveEnv, ...env }, []), gatewayCa).hostData.equals(base);
  t.true(same({ LOG_LEVEL: 'debug', DATABASE_URL: 'postgresql://enclave_user:other@db.example:5432/track?sslmode=verify-full' }));
  t.false(same({}, Buffer.from('another CA')));
  t.false(same({ KEY_BROKER_URL: 'https://other-broker.example' }));
  t.false(same({ KEY_BROKER_CERT_SHA256: 'cd'.repeat(32) }));
  t.false(same({ KEY_BROKER_RESOURCE: 'a/b/c' }));
  t.false(same({ DATABASE_URL: 'postgresql://enclave_user:pw@db2.example:5432/track?sslmode=verify-full' }));
  t.false(same({ TSM_REPORT_ROOT: '/tmp/tsm' }));
  t.false(same({ LARGE_FLOW_SHARE: '0.2' }));
  t.is(canonicalJson({ b: 1, a: ['x', { d: null, c: true }] }), '{"a":["x",{"c":true,"d":null}],"b":1}');
});

test('scale-out defaults keep one instance owning every shard of 1,024', async (t) => {
  const { instanceAddress } = await import('../../src/config/config.js');
  const config = loadConfig({});
  t.is(config.SHARD_COUNT, 1_024);
  t.is(config.LEASE_TTL_MS, 15_000);
  t.is(instanceAddress(config), '127.0.0.1:50051');
  t.is(instanceAddress(loadConfig({ INSTANCE_ADDR: '10.0.0.7:50051' })), '10.0.0.7:50051');
});

test('scale-out settings are validated by name', (t) => {
  const error = t.throws(() => loadConfig({ INSTANCE_ADDR: 'no port', LEASE_TTL_MS: '10', SHARD_COUNT: '0' }), { instanceOf: ConfigError });
  t.regex(error!.message, /INSTANCE_ADDR: expected host:port/u);
  t.regex(error!.message, /LEASE_TTL_MS/u);
  t.regex(error!.message, /SHARD_COUNT/u);
});
