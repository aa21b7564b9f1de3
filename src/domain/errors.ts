// The domain's refusals: input the engine cannot compute from, a key that can do more than read.
// Messages name a field or a right, never a value.

/** Base of the domain's refusals (the actor resumes after one: the input, not the actor, is wrong). */
export class DomainError extends Error {
  override name = 'DomainError';
}

/** Input the engine cannot compute from. Messages name the field and position, never a value. */
export class AggregationInputError extends DomainError {
  override name = 'AggregationInputError';
}

/** The venue reports rights beyond reading (trade, withdraw, transfer) or no read right. */
export class WritableCredentialError extends DomainError {
  override name = 'WritableCredentialError';
}
