// The actor layer's error family. gRPC maps exactly these (src/grpc), anything else is UNKNOWN.
// Messages name the account and the cause class only: never a credential, fill, id or amount.

export class ActorError extends Error {
  override name = 'ActorError';
}

/** No connection is stored for this (user, exchange). */
export class AccountNotFoundError extends ActorError {
  override name = 'AccountNotFoundError';
}

/** The account crashed too often and is parked in the failed state. */
export class AccountFailedError extends ActorError {
  override name = 'AccountFailedError';
}

/** The venue could not be reached or kept failing within the retry budget. */
export class VenueUnavailableError extends ActorError {
  override name = 'VenueUnavailableError';
}

/** Too much work in flight (e.g. full syncs); the caller may retry later. */
export class OverloadedError extends ActorError {
  override name = 'OverloadedError';
}

/** An ask got no reply before its deadline. */
export class AskTimeoutError extends ActorError {
  override name = 'AskTimeoutError';
}

/** The runtime is shutting down and takes no new work. */
export class ShuttingDownError extends ActorError {
  override name = 'ShuttingDownError';
}

/** The connection was registered again while a sync ran: the sync was cancelled; retry it. */
export class ConnectionReplacedError extends ActorError {
  override name = 'ConnectionReplacedError';
}

/**
 * Another instance owns the account's shard, or none does yet (issue 18): the command must go to
 * the owner. The composition root forwards it; a caller that still gets it may retry shortly.
 */
export class NotShardOwnerError extends ActorError {
  override name = 'NotShardOwnerError';
  constructor(
    message: string,
    /** When a retry may find the shard owned (about one lease poll). */
    readonly retryAfterMs = 1_000,
    /** The owner's INSTANCE_ADDR when another instance holds the shard (null: nobody does yet). */
    readonly ownerAddr: string | null = null,
  ) {
    super(message);
  }
}

/**
 * The published hours no longer hash to the account's last signed checkpoint (edited, deleted or
 * inserted behind the enclave's back), or no checkpoint exists yet: no statement is signed over them.
 */
export class PublishedRecordError extends ActorError {
  override name = 'PublishedRecordError';
}
