import { randomBytes } from 'node:crypto';
import test from 'ava';
import fc from 'fast-check';
import type { AccountKey } from '../../src/domain/types.js';
import { CredentialFormatError } from '../../src/crypto/errors.js';
import { decodeCredential, encodeCredential } from '../../src/crypto/credential.js';
import { EnvelopeOpenError } from '../../src/crypto/errors.js';
import { envelopeKeyId, openEnvelope, sealEnvelope } from '../../src/crypto/envelope.js';
import { createKeyring, keyringFromConfig } from '../../src/crypto/keyring.js';
import { KeyNotFoundError, KeyringError } from '../../src/crypto/errors.js';
import { rotateEnvelopes, type EnvelopeStore, type StoredEnvelope } from '../../src/crypto/rotate.js';

const secretA = randomBytes(32);
const secretB = randomBytes(32);
const keyring = createKeyring([{ id: 1, secret: secretA }], 1);
const account: AccountKey = { userUid: 'user-1', exchange: 'binance' };
const credential = { apiKey: 'canary-api-key-7f3a', secret: 'canary-secret-9b1c', passphrase: 'canary-pass' };

test('a sealed credential opens back to the same credential', (t) => {
  const envelope = sealEnvelope(keyring, account, encodeCredential(credential));
  t.is(envelope[0], 1);
  t.is(envelopeKeyId(envelope), 1);
  const plaintext = openEnvelope(keyring, account, envelope);
  t.deepEqual(decodeCredential(plaintext), credential);
  plaintext.fill(0);
  t.true(plaintext.every((b) => b === 0));
  t.deepEqual(decodeCredential(encodeCredential({ apiKey: 'k', secret: '' })), { apiKey: 'k', secret: '' });
});

test('the envelope does not contain the plaintext and two seals differ (random IV)', (t) => {
  const plain = encodeCredential(credential);
  const a = sealEnvelope(keyring, account, plain);
  const b = sealEnvelope(keyring, account, plain);
  t.false(a.equals(b));
  t.false(a.includes(Buffer.from('canary')));
});

test('flipping any single byte of the envelope makes it fail to open', (t) => {
  const envelope = sealEnvelope(keyring, account, encodeCredential(credential));
  for (let i = 0; i < envelope.length; i++) {
    for (const mask of [0x01, 0x80, 0xff]) {
      const tampered = Buffer.from(envelope);
      tampered[i]! ^= mask;
      t.throws(() => openEnvelope(keyring, account, tampered), { instanceOf: EnvelopeOpenError }, `byte ${i} mask ${mask}`);
    }
  }
  t.throws(() => openEnvelope(keyring, account, envelope.subarray(0, envelope.length - 1)), { instanceOf: EnvelopeOpenError });
  t.throws(() => openEnvelope(keyring, account, Buffer.concat([envelope, Buffer.from([0])])), { instanceOf: EnvelopeOpenError });
  t.throws(() => openEnvelope(keyring, account, Buffer.alloc(10)), { instanceOf: EnvelopeOpenError });
});

test('random tampering never opens (property)', (t) => {
  const envelope = sealEnvelope(keyring, account, encodeCredential(credential));
  fc.assert(
    fc.property(fc.nat(envelope.length - 1), fc.integer({ min: 1, max: 255 }), (index, mask) => {
      const tampered = Buffer.from(envelope);
      tampered[index]! ^= mask;
      try {
        openEnvelope(keyring, account, tampered);
        return false;
      } catch (error) {
        return error instanceof EnvelopeOpenError;
      }
    }),
  );
  t.pass();
});

test('an envelope fails to open with the wrong key, for another user or another exchange', (t) => {
  const envelope = sealEnvelope(keyring, account, encodeCredential(credential));
  const otherKeyring = createKeyring([{ id: 1, secret: secretB }], 1);
  for (const [ring, who] of [
    [otherKeyring, account],
    [keyring, { userUid: 'user-2', exchange: 'binance' }],
    [keyring, { userUid: 'user-1', exchange: 'bybit' }],
    [keyring, { userUid: 'user-1\u0000', exchange: 'binance' }],
  ] as const) {
    const error = t.throws(() => openEnvelope(ring, who, envelope), { instanceOf: EnvelopeOpenError });
    t.deepEqual(error!.account, who);
  }
});

test('the open error names the account and never key or plaintext bytes', (t) => {
  const envelope = sealEnvelope(keyring, account, encodeCredential(credential));
  const wrong = createKeyring([{ id: 1, secret: secretB }], 1);
  const error = t.throws(() => openEnvelope(wrong, account, envelope), { instanceOf: EnvelopeOpenError });
  const text = `${error!.message} ${error!.stack ?? ''} ${JSON.stringify(error)}`;
  t.true(error!.message.includes('binance:user-1'));
  t.false(text.includes('canary'));
  for (const secret of [secretA, secretB]) {
    t.false(text.includes(secret.toString('hex')));
    t.false(text.includes(secret.toString('base64')));
  }
});

test('a keyring opens envelopes of older keys and seals with the current one', (t) => {
  const old = createKeyring([{ id: 1, secret: secretA }], 1);
  const rotated = createKeyring([{ id: 1, secret: secretA }, { id: 2, secret: secretB }], 2);
  const envelope = sealEnvelope(old, account, encodeCredential(credential));
  t.deepEqual(decodeCredential(openEnvelope(rotated, account, envelope)), credential);
  t.is(envelopeKeyId(sealEnvelope(rotated, account, Buffer.from('x'))), 2);
  const newer = sealEnvelope(rotated, account, encodeCredential(credential));
  t.throws(() => openEnvelope(old, account, newer), { instanceOf: EnvelopeOpenError, message: /unknown key/u });
});

test('the same secret under two ids derives different keys', (t) => {
  const ring = createKeyring([{ id: 1, secret: secretA }, { id: 2, secret: secretA }], 2);
  const envelope = sealEnvelope(ring, account, Buffer.from('x'));
  const relabelled = Buffer.from(envelope);
  relabelled[1] = 1;
  t.throws(() => openEnvelope(ring, account, relabelled), { instanceOf: EnvelopeOpenError });
});

test('the keyring comes from configuration and refuses bad key sets', (t) => {
  const hexA = secretA.toString('hex');
  const hexB = secretB.toString('hex');
  const ring = keyringFromConfig({ ENCRYPTION_KEY: hexB, ENCRYPTION_KEY_ID: 3, ENCRYPTION_KEYS: `1:${hexA}` });
  t.is(ring.current.id, 3);
  t.deepEqual(ring.ids, [1, 3]);
  const fromOld = sealEnvelope(createKeyring([{ id: 1, secret: secretA }], 1), account, Buffer.from('x'));
  t.is(openEnvelope(ring, account, fromOld).toString(), 'x');
  t.throws(() => keyringFromConfig({ ENCRYPTION_KEY: undefined, ENCRYPTION_KEY_ID: 1, ENCRYPTION_KEYS: undefined }), { instanceOf: KeyringError });
  t.throws(() => keyringFromConfig({ ENCRYPTION_KEY: hexA, ENCRYPTION_KEY_ID: 1, ENCRYPTION_KEYS: `1:${hexB}` }), { instanceOf: KeyringError });
  t.throws(() => createKeyring([{ id: 1, secret: secretA }], 2), { instanceOf: KeyNotFoundError });
  t.throws(() => createKeyring([{ id: 1, secret: Buffer.alloc(16) }], 1), { instanceOf: KeyringError });
});

test('a decrypted payload that is not a credential gives a content-free error', (t) => {
  for (const bad of ['not json canary', '{"apiKey":5}', '{"apiKey":"k","secret":"s","extra":"canary"}']) {
    const error = t.throws(() => decodeCredential(Buffer.from(bad)), { instanceOf: CredentialFormatError });
    t.false(error!.message.includes('canary'));
  }
});

test('rotation re-seals stale envelopes to the newest key and skips current and raced ones', async (t) => {
  const old = createKeyring([{ id: 1, secret: secretA }], 1);
  const ring = createKeyring([{ id: 1, secret: secretA }, { id: 2, secret: secretB }], 2);
  const accounts: AccountKey[] = [
    { userUid: 'a', exchange: 'binance' },
    { userUid: 'b', exchange: 'binance' },
    { userUid: 'c', exchange: 'bybit' },
    { userUid: 'd', exchange: 'bybit' },
  ];
  const rows = new Map<string, Buffer>([
    ['a', sealEnvelope(old, accounts[0]!, encodeCredential(credential))],
    ['b', sealEnvelope(ring, accounts[1]!, encodeCredential(credential))],
    ['c', sealEnvelope(old, accounts[0]!, encodeCredential(credential))], // sealed for another account: cannot open
    ['d', sealEnvelope(old, accounts[3]!, encodeCredential(credential))],
  ]);
  const store: EnvelopeStore = {
    async *iterateEnvelopes(): AsyncIterable<StoredEnvelope> {
      for (const acc of accounts) yield { account: acc, envelope: rows.get(acc.userUid)! };
    },
    async replaceEnvelope(acc, expected, next) {
      if (acc.userUid === 'd') return false; // changed by the user meanwhile
      if (!rows.get(acc.userUid)!.equals(expected)) return false;
      rows.set(acc.userUid, next);
      return true;
    },
  };
  const report = await rotateEnvelopes(store, ring);
  t.deepEqual(report, { rotated: 1, current: 1, raced: 1, failed: ['bybit:c'] });
  t.is(envelopeKeyId(rows.get('a')!), 2);
  t.deepEqual(decodeCredential(openEnvelope(ring, accounts[0]!, rows.get('a')!)), credential);
});
