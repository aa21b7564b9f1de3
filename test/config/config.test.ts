import test from 'ava';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfig } from '../../src/config/config.js';

const key = 'a'.repeat(64);

test('defaults apply when nothing is configured', (t) => {
  const config = loadConfig({});
  t.is(config.ENCLAVE_PORT, 50051);
  t.false(config.ENCLAVE_MODE);
  t.is(config.DATABASE_URL, undefined);
});

test('a malformed key is reported by name without echoing its value', (t) => {
  const secret = 'zz-canary-not-hex-0123456789';
  const error = t.throws(() => loadConfig({ ENCRYPTION_KEY: secret, ENCLAVE_PORT: '99999' }), { instanceOf: ConfigError });
  t.truthy(error);
  t.regex(error!.message, /ENCRYPTION_KEY: expected 64 hex characters/u);
  t.regex(error!.message, /ENCLAVE_PORT/u);
  t.false(error!.message.includes(secret));
});

test('enclave mode requires the key and the mTLS files', (t) => {
  const error = t.throws(() => loadConfig({ ENCLAVE_MODE: 'true' }), { instanceOf: ConfigError });
  t.deepEqual(
    error!.problems.map((p) => p.split(':')[0]),
    ['ENCRYPTION_KEY', 'TLS_CA_FILE', 'TLS_CERT_FILE', 'TLS_KEY_FILE'],
  );
  t.notThrows(() => loadConfig({ ENCLAVE_MODE: 'true', ENCRYPTION_KEY: key, TLS_CA_FILE: 'a', TLS_CERT_FILE: 'b', TLS_KEY_FILE: 'c' }));
});
