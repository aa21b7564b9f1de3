// Registration challenges (issue 13, item 6) and the service's intake that consumes them:
// single use, expiring, per account, bounded; version-2 blobs (no challenge) refused in enclave mode.
import test from 'ava';
import { createEnclaveIdentity } from '../../src/attestation/identity.js';
import { createSealedIntake } from '../../src/app/sealed-intake.js';
import { SealedCredentialError } from '../../src/crypto/errors.js';
import { createRegistrationChallenges } from '../../src/crypto/registration-challenges.js';
import { sealCredential } from '../../src/crypto/sealed-intake.js';
import type { AccountKey } from '../../src/domain/types.js';

const ALICE: AccountKey = { userUid: 'alice', exchange: 'binance' };
const BOB: AccountKey = { userUid: 'bob', exchange: 'binance' };
const CREDENTIAL = { apiKey: 'k', secret: 's' };

test('a challenge is consumed once, for its own account, before it expires', (t) => {
  let now = 1_000;
  const challenges = createRegistrationChallenges({ ttlMs: 600_000, now: () => now });
  const first = challenges.issue(ALICE);
  t.is(first.challenge.byteLength, 32);
  t.is(first.expiresAt, 601_000);
  t.true(challenges.consume(ALICE, first.challenge));
  t.false(challenges.consume(ALICE, first.challenge), 'single use');
  t.false(challenges.consume(BOB, challenges.issue(ALICE).challenge), 'another account');
  const late = challenges.issue(ALICE);
  now += 600_000;
  t.false(challenges.consume(ALICE, late.challenge), 'expired');
  t.false(challenges.consume(ALICE, Buffer.alloc(32)), 'never issued');
});

test('the map is bounded: the oldest challenge goes first', (t) => {
  const challenges = createRegistrationChallenges({ maxOutstanding: 3 });
  const issued = [1, 2, 3, 4].map(() => challenges.issue(ALICE).challenge);
  t.is(challenges.outstanding(), 3);
  t.false(challenges.consume(ALICE, issued[0]!));
  t.true(challenges.consume(ALICE, issued[3]!));
});

test('the intake opens a version-3 blob once; a replay, and in enclave mode a version-2 blob, are refused', async (t) => {
  const identity = await createEnclaveIdentity({ serviceVersion: 'x', buildHash: 'x' });
  const challenges = createRegistrationChallenges();
  const enclave = createSealedIntake({ identity, challenges, enclaveMode: true });
  const sealed = await sealCredential(identity.publicKey, ALICE, CREDENTIAL, { challenge: challenges.issue(ALICE).challenge });
  const opened = await enclave(ALICE, sealed);
  t.deepEqual(JSON.parse(opened.toString('utf8')), CREDENTIAL);
  const replay = await t.throwsAsync(enclave(ALICE, sealed), { instanceOf: SealedCredentialError });
  t.is(replay?.reason, 'challenge');
  const unbound = await sealCredential(identity.publicKey, ALICE, CREDENTIAL);
  t.is(unbound[0], 2);
  t.is((await t.throwsAsync(enclave(ALICE, unbound), { instanceOf: SealedCredentialError }))?.reason, 'challenge');
  // Outside enclave mode (development) the unbound blob still opens.
  const development = createSealedIntake({ identity, challenges, enclaveMode: false });
  t.deepEqual(JSON.parse((await development(ALICE, unbound)).toString('utf8')), CREDENTIAL);
  // A challenge moved into another blob's header breaks the AEAD: it does not open, and the
  // victim's challenge is not burnt by the attempt.
  const live = challenges.issue(ALICE).challenge;
  const tampered = Buffer.from(await sealCredential(identity.publicKey, ALICE, CREDENTIAL, { challenge: challenges.issue(ALICE).challenge }));
  live.copy(tampered, 1 + 8);
  t.is((await t.throwsAsync(enclave(ALICE, tampered), { instanceOf: SealedCredentialError }))?.reason, 'unopenable');
  t.true(challenges.consume(ALICE, live));
});
