import { randomBytes, webcrypto } from 'node:crypto';
import test from 'ava';
import { createEnclaveIdentity } from '../../src/attestation/identity.js';
import { KeyringError } from '../../src/crypto/errors.js';
import { openEnvelope, sealEnvelope } from '../../src/crypto/envelope.js';
import { deriveEnclaveKeys, encodeReleasedSecrets, parseReleasedSecrets, type RootSecrets } from '../../src/crypto/key-hierarchy.js';
import { keyringFromConfig } from '../../src/crypto/keyring.js';
import { intakeKeyId, openSealedCredential, sealCredential } from '../../src/crypto/sealed-intake.js';

const account = { userUid: 'u-1', exchange: 'binance' } as const;
const credential = { apiKey: 'key', secret: 'secret' };
const root = (entries: [number, Buffer][], currentId: number): RootSecrets => ({ currentId, secrets: new Map(entries) });

test('two instances given the same released secret hold the same intake, signing and envelope keys', async (t) => {
  const secret = randomBytes(32);
  const a = await deriveEnclaveKeys(root([[1, Buffer.from(secret)]], 1));
  const b = await deriveEnclaveKeys(root([[1, Buffer.from(secret)]], 1));
  t.deepEqual(a.intake.publicKey, b.intake.publicKey);
  t.deepEqual(a.intake.keyId, intakeKeyId(a.intake.publicKey));
  t.deepEqual(a.statementSigning.publicKey, b.statementSigning.publicKey);
  const sealed = await sealCredential(a.intake.publicKey, account, credential);
  const identityB = await createEnclaveIdentity({ intakeKey: b.intake, buildHash: 'test' });
  const opened = await openSealedCredential(identityB, account, sealed);
  t.deepEqual(JSON.parse(opened.toString('utf8')), credential);
  t.deepEqual(openEnvelope(b.keyring, account, sealEnvelope(a.keyring, account, Buffer.from('x'))), Buffer.from('x'));
});

test('derived keys are distinct per purpose and the private halves cannot be exported', async (t) => {
  const keys = await deriveEnclaveKeys(root([[1, randomBytes(32)]], 1));
  t.notDeepEqual(keys.intake.publicKey, keys.statementSigning.publicKey);
  t.false(keys.intake.recipientKey.privateKey.extractable);
  t.false(keys.statementSigning.privateKey.extractable);
  await t.throwsAsync(webcrypto.subtle.exportKey('pkcs8', keys.intake.recipientKey.privateKey));
  const other = keys.accountDataKey({ userUid: 'u-2', exchange: 'binance' });
  t.notDeepEqual(keys.accountDataKey(account).export(), other.export());
  t.deepEqual(keys.accountDataKey(account).export(), keys.accountDataKey(account).export());
  // The signing key signs, and the public key verifies it.
  const signature = await webcrypto.subtle.sign('Ed25519', keys.statementSigning.privateKey, Buffer.from('statement'));
  const publicKey = await webcrypto.subtle.importKey('raw', keys.statementSigning.publicKey, 'Ed25519', false, ['verify']);
  t.true(await webcrypto.subtle.verify('Ed25519', publicKey, signature, Buffer.from('statement')));
});

test('after a root rotation a blob sealed to the previous intake key still opens; one sealed to an unknown key does not', async (t) => {
  const first = randomBytes(32);
  const before = await deriveEnclaveKeys(root([[1, Buffer.from(first)]], 1));
  const sealed = await sealCredential(before.intake.publicKey, account, credential);
  const after = await deriveEnclaveKeys(root([[1, Buffer.from(first)], [2, randomBytes(32)]], 2));
  t.notDeepEqual(after.intake.publicKey, before.intake.publicKey);
  const identity = await createEnclaveIdentity({ intakeKey: after.intake, buildHash: 'test' });
  t.deepEqual(JSON.parse((await openSealedCredential(identity, account, sealed)).toString('utf8')), credential);
  const stranger = await deriveEnclaveKeys(root([[1, randomBytes(32)]], 1));
  await t.throwsAsync(openSealedCredential(identity, account, await sealCredential(stranger.intake.publicKey, account, credential)));
});

test('the released resource round-trips and a malformed one is refused without echoing it', (t) => {
  const secrets = root([[3, randomBytes(32)], [1, randomBytes(32)]], 3);
  const parsed = parseReleasedSecrets(encodeReleasedSecrets(secrets));
  t.is(parsed.currentId, 3);
  t.deepEqual(parsed.secrets.get(1), secrets.secrets.get(1));
  const error = t.throws(() => parseReleasedSecrets(Buffer.from('{"version":1,"current":1,"keys":{"1":"canary-zz"}}')), { instanceOf: KeyringError });
  t.false(error!.message.includes('canary'));
});

test('envelope keys from ENCRYPTION_KEY are the ones the hierarchy derives from the same root (stored data stays readable)', async (t) => {
  const hex = randomBytes(32).toString('hex');
  const fromConfig = keyringFromConfig({ ENCRYPTION_KEY: hex, ENCRYPTION_KEY_ID: 4, ENCRYPTION_KEYS: undefined });
  const derived = await deriveEnclaveKeys(root([[4, Buffer.from(hex, 'hex')]], 4));
  t.deepEqual(openEnvelope(derived.keyring, account, sealEnvelope(fromConfig, account, Buffer.from('y'))), Buffer.from('y'));
});
