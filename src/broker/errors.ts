// The development key broker's error family. Messages name the file or field, never a secret.

export class BrokerError extends Error {
  override name = 'BrokerError';
}

/** The policy file is unreadable or does not describe a policy. */
export class BrokerPolicyError extends BrokerError {
  override name = 'BrokerPolicyError';
}
