// The service's HPKE intake for Register (issue 13, item 6): opens a sealed credential and then
// consumes the registration challenge it is bound to. The challenge is consumed only once the
// AEAD has authenticated it, so nobody can burn another client's challenge with a forged blob.
// A blob without a challenge (version 1 or 2) could be replayed by whoever recorded it: enclave
// mode refuses it; outside enclave mode (development, the simulated venue) it still opens, so
// older tooling keeps working where nothing real is at stake.
import type { AccountKey } from '../domain/types.js';
import { SealedCredentialError } from '../crypto/errors.js';
import type { RegistrationChallenges } from '../crypto/registration-challenges.js';
import { openSealedRegistration, type IntakeKey } from '../crypto/sealed-intake.js';

export interface SealedIntakeDeps {
  readonly identity: IntakeKey;
  readonly challenges: RegistrationChallenges;
  readonly enclaveMode: boolean;
}

/** The account actor's `openSealed`: the credential's bytes (the actor zeroes them), or SealedCredentialError. */
export function createSealedIntake({ identity, challenges, enclaveMode }: SealedIntakeDeps): (account: AccountKey, sealed: Uint8Array) => Promise<Buffer> {
  return async (account, sealed) => {
    const { credential, challenge } = await openSealedRegistration(identity, account, sealed);
    const live = challenge === null ? !enclaveMode : challenges.consume(account, challenge);
    if (!live) {
      credential.fill(0);
      throw new SealedCredentialError('challenge');
    }
    return credential;
  };
}
