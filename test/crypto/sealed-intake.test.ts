import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { webcrypto } from 'node:crypto';
import { decodeCredential } from '../../src/crypto/credential.js';
import test from 'ava';
import type { AccountKey } from '../../src/domain/types.js';
import { SealedCredentialError } from '../../src/crypto/errors.js';
import { WritableCredentialError } from '../../src/domain/errors.js';
import { createEnclaveIdentity, UNBUILT } from '../../src/attestation/identity.js';
import { assertReadOnlyPermissions, checkReadOnlyPermissions } from '../../src/domain/permissions.js';
import { openSealedCredential, sealCredential } from '../../src/crypto/sealed-intake.js';

const account: AccountKey = { userUid: 'user-7f3a', exchange: 'binance' };
const credential = { apiKey: 'canary-apikey-Q9xZ', secret: 'canary-secret-W2vB' };

function assertNoLeak(t: import('ava').ExecutionContext, error: unknown, publicKey: Buffer): void {
  const text = `${String(error)} ${inspect(error, { depth: 5, showHidden: true })} ${JSON.stringify(error)}`;
  for (const canary of [credential.apiKey, credential.secret, publicKey.toString('hex'), publicKey.toString('base64')]) {
    t.false(text.includes(canary), 'error text leaks a secret or key bytes');
  }
}

test('the identity key is 32 raw bytes, fresh per start, and its private half cannot be exported', async (t) => {
  const a = await createEnclaveIdentity();
  const b = await createEnclaveIdentity();
  t.is(a.publicKey.length, 32);
  t.false(a.publicKey.equals(b.publicKey));
  t.false(a.recipientKey.privateKey.extractable);
  await t.throwsAsync(webcrypto.subtle.exportKey('pkcs8', a.recipientKey.privateKey));
  // The getter hands out copies: scribbling on one does not change the identity.
  a.publicKey.fill(0);
  t.notDeepEqual(a.publicKey, Buffer.alloc(32));
});

test('the identity reports the package version and, from sources, an unbuilt hash', async (t) => {
  const identity = await createEnclaveIdentity();
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  t.is(identity.serviceVersion, pkg.version);
  t.is(identity.buildHash, UNBUILT);
});

test('accepts a credential sealed for this account and this enclave, in a zeroable buffer', async (t) => {
  const identity = await createEnclaveIdentity();
  const sealed = await sealCredential(identity.publicKey, account, { ...credential, passphrase: 'canary-pass' });
  t.false(sealed.includes(Buffer.from(credential.secret)), 'the sealed bytes carry no plaintext');
  const opened = await openSealedCredential(identity, account, sealed);
  t.deepEqual(decodeCredential(opened), { ...credential, passphrase: 'canary-pass' });
  opened.fill(0);
  t.true(opened.every((byte) => byte === 0));
});

test('refuses a credential sealed for another user of the same venue', async (t) => {
  const identity = await createEnclaveIdentity();
  const sealed = await sealCredential(identity.publicKey, { userUid: 'someone-else', exchange: 'binance' }, credential);
  const error = await t.throwsAsync(openSealedCredential(identity, account, sealed), { instanceOf: SealedCredentialError });
  t.is(error?.reason, 'unopenable');
  assertNoLeak(t, error, identity.publicKey);
});

test('refuses a credential sealed for the same user on another venue', async (t) => {
  const identity = await createEnclaveIdentity();
  const sealed = await sealCredential(identity.publicKey, { userUid: account.userUid, exchange: 'bybit' }, credential);
  await t.throwsAsync(openSealedCredential(identity, account, sealed), { instanceOf: SealedCredentialError });
});

test('refuses a credential sealed to another enclave key', async (t) => {
  const identity = await createEnclaveIdentity();
  const other = await createEnclaveIdentity();
  const sealed = await sealCredential(other.publicKey, account, credential);
  const error = await t.throwsAsync(openSealedCredential(identity, account, sealed), { instanceOf: SealedCredentialError });
  assertNoLeak(t, error, identity.publicKey);
  assertNoLeak(t, error, other.publicKey);
});

test('refuses a sealed credential with any single byte changed, truncated or extended', async (t) => {
  const identity = await createEnclaveIdentity();
  const sealed = await sealCredential(identity.publicKey, account, credential);
  const variants: Buffer[] = [];
  for (let index = 0; index < sealed.length; index += 1) {
    const tampered = Buffer.from(sealed);
    tampered[index] = tampered[index]! ^ 0x01;
    variants.push(tampered);
  }
  variants.push(sealed.subarray(0, sealed.length - 1), Buffer.concat([sealed, Buffer.of(0)]), Buffer.alloc(0));
  const outcomes = await Promise.allSettled(variants.map((variant) => openSealedCredential(identity, account, variant)));
  const accepted = outcomes.filter((outcome) => outcome.status === 'fulfilled').length;
  t.is(accepted, 0);
  for (const outcome of outcomes) {
    if (outcome.status === 'rejected') t.true(outcome.reason instanceof SealedCredentialError);
  }
  t.is(outcomes.length, sealed.length + 3);
});

test('refuses a sealed payload that is not an API key and secret', async (t) => {
  const identity = await createEnclaveIdentity();
  const sealed = await sealCredential(identity.publicKey, account, { apiKey: '', secret: credential.secret });
  const error = await t.throwsAsync(openSealedCredential(identity, account, sealed), { instanceOf: SealedCredentialError });
  t.is(error?.reason, 'malformed');
  assertNoLeak(t, error, identity.publicKey);
});

test('refuses a key with trading rights and names them', (t) => {
  const verdict = checkReadOnlyPermissions({ reported: true, rights: ['read', 'spot_trade', 'futures_trade'] });
  t.false(verdict.ok);
  if (verdict.ok) return;
  t.deepEqual(verdict.refused, ['spot_trade', 'futures_trade']);
  t.regex(verdict.reason, /trading rights \(spot_trade, futures_trade\)/u);
  t.regex(verdict.reason, /read-only key/u);
});

test('refuses a key with withdrawal or transfer rights', (t) => {
  const verdict = checkReadOnlyPermissions({ reported: true, rights: ['read', 'withdraw', 'internal_transfer'] });
  t.false(verdict.ok);
  if (!verdict.ok) t.regex(verdict.reason, /withdrawal or transfer rights \(withdraw, internal_transfer\)/u);
  const error = t.throws(() => assertReadOnlyPermissions({ reported: true, rights: ['read', 'margin_trade', 'withdraw'] }), {
    instanceOf: WritableCredentialError,
  });
  t.regex(error!.message, /trading rights \(margin_trade\) and withdrawal or transfer rights \(withdraw\)/u);
});

test('accepts a read-only key, and one whose venue reports no permissions as unchecked', (t) => {
  t.deepEqual(checkReadOnlyPermissions({ reported: true, rights: ['read'] }), { ok: true, checked: true });
  t.deepEqual(checkReadOnlyPermissions({ reported: false }), { ok: true, checked: false });
  t.notThrows(() => assertReadOnlyPermissions({ reported: true, rights: ['read'] }));
});

test('refuses a key that cannot read', (t) => {
  const verdict = checkReadOnlyPermissions({ reported: true, rights: [] });
  t.false(verdict.ok);
  if (!verdict.ok) t.regex(verdict.reason, /cannot read/u);
});
