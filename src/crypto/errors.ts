// The crypto layer's error family: envelopes, key rings, credential encoding and sealed intake.
// Messages name the account or key id at most: never key bytes, plaintext or ciphertext.
import { accountId, type AccountKey } from '../domain/types.js';

/** Base of every crypto-layer refusal. */
export class CryptoError extends Error {
  override name = 'CryptoError';
}

export class CredentialFormatError extends CryptoError {
  override name = 'CredentialFormatError';
  constructor() {
    // Deliberately says nothing about the content.
    super('the decrypted credential is not a valid venue credential');
  }
}

/** The one error for an envelope that cannot be opened. Names the account, nothing else. */
export class EnvelopeOpenError extends CryptoError {
  override name = 'EnvelopeOpenError';
  constructor(
    readonly account: AccountKey,
    reason: 'malformed' | 'unsupported version' | 'unknown key' | 'authentication failed',
  ) {
    super(`cannot open the credential envelope of ${accountId(account)}: ${reason}`);
  }
}

export class KeyringError extends CryptoError {
  override name = 'KeyringError';
}

export class KeyNotFoundError extends KeyringError {
  override name = 'KeyNotFoundError';
  constructor(readonly keyId: number) {
    super(`no envelope key with id ${keyId} is configured`);
  }
}

/**
 * A sealed credential was refused: sealed for another account or another enclave key, tampered
 * with, truncated, or its plaintext is not a credential. The message never says which, on purpose
 * (no oracle), and never carries plaintext or key bytes.
 */
export class SealedCredentialError extends CryptoError {
  override name = 'SealedCredentialError';
  constructor(readonly reason: 'unopenable' | 'malformed' | 'challenge', options?: ErrorOptions) {
    super(
      reason === 'unopenable'
        ? 'the sealed credential cannot be opened for this account by this enclave'
        : reason === 'malformed'
          ? 'the sealed credential does not hold an API key and secret'
          : 'the sealed credential is not bound to a live registration challenge (unknown, expired or already used): ask for a new challenge and seal again',
      options,
    );
  }
}

/**
 * A sealed page or record of an account's private storage did not open: edited, moved to another
 * account, table or position, or sealed under a key this enclave does not hold. Names the account
 * and the table, never content.
 */
export class SealedDataError extends CryptoError {
  override name = 'SealedDataError';
  constructor(readonly account: AccountKey, readonly table: string) {
    super(`a sealed ${table} entry of ${accountId(account)} failed its integrity check`);
  }
}
