// The gRPC boundary's error translation: exactly one function, `toGrpcStatus`, turns whatever a
// handler caught into a status. Details are fixed sentences per class, never an inner message
// (an unknown error may quote a venue URL, a body or an id), except our own validation reasons.
import { Metadata, status } from '@grpc/grpc-js';
import {
  AccountFailedError,
  AccountNotFoundError,
  AskTimeoutError,
  ConnectionReplacedError,
  NotShardOwnerError,
  OverloadedError,
  ShuttingDownError,
  VenueUnavailableError, PublishedRecordError } from '../actors/errors.js';
import { AttestationDeviceError, AttestationUnavailableError, InvalidAttestationRequestError } from '../attestation/errors.js';
import { SealedCredentialError } from '../crypto/errors.js';
import { WritableCredentialError } from '../domain/errors.js';

/** A request field failed validation. `reason` is ours and never quotes the offending value. */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError';
  constructor(readonly violations: readonly { readonly field: string; readonly reason: string }[]) {
    super(violations.map((v) => `${v.field}: ${v.reason}`).join('; '));
  }
}

/** The client cancelled the call; the ask's signal carries this as its reason. */
export class CallCancelledError extends Error {
  override readonly name = 'CallCancelledError';
  constructor() {
    super('the client cancelled the call');
  }
}

/** The TLS files are missing, unreadable or inconsistent; the message names the part, never the contents. */
export class TlsMaterialError extends Error {
  override readonly name = 'TlsMaterialError';
}

/** The server cannot start with the given settings (such as enclave mode without mTLS files). */
export class GrpcServerConfigError extends Error {
  override readonly name = 'GrpcServerConfigError';
}

/** A reply the client cannot map to the domain (an enum value from a newer schema, a missing field). */
export class WireFormatError extends Error {
  override readonly name = 'WireFormatError';
}

/**
 * The status the owner of the account's shard answered a forwarded command with (issue 18). Its
 * details are the owner's own fixed sentences (this same toGrpcStatus made them); of its trailers
 * only the retry hint and the owner's address go back.
 */
export class PeerStatusError extends Error {
  override readonly name = 'PeerStatusError';
  constructor(readonly code: status, readonly details: string, readonly trailers: Metadata) {
    super('the shard owner refused the forwarded command');
  }
}

export interface GrpcStatus {
  readonly code: status;
  readonly details: string;
  /** Trailers for the client (a retry hint); never an account's data. */
  readonly metadata?: Metadata;
}

/** Trailer of an UNAVAILABLE that may be retried soon: milliseconds to wait (issue 18: a shard without an owner). */
export const RETRY_AFTER_MS_KEY = 'retry-after-ms';
/** Trailer naming the instance (INSTANCE_ADDR) that owns the account's shard, when one does. */
export const SHARD_OWNER_KEY = 'shard-owner';

export const UNKNOWN_DETAILS = 'internal error';

export function toGrpcStatus(error: unknown): GrpcStatus {
  if (error instanceof InvalidArgumentError) return { code: status.INVALID_ARGUMENT, details: error.message };
  if (error instanceof AccountNotFoundError) return { code: status.NOT_FOUND, details: 'no account is connected for this user and exchange' };
  if (error instanceof PublishedRecordError) return { code: status.FAILED_PRECONDITION, details: error.message };
  if (error instanceof AccountFailedError) {
    return { code: status.FAILED_PRECONDITION, details: 'the account is parked after repeated failures; an operator can revive it (ReviveConnection, enclave revive)' };
  }
  if (error instanceof VenueUnavailableError) return { code: status.UNAVAILABLE, details: 'the exchange could not be reached; retry later' };
  if (error instanceof OverloadedError) return { code: status.RESOURCE_EXHAUSTED, details: 'too much work in flight; retry later' };
  if (error instanceof ConnectionReplacedError) return { code: status.ABORTED, details: 'the connection was registered again during the sync; retry' };
  if (error instanceof AskTimeoutError) return { code: status.DEADLINE_EXCEEDED, details: 'no answer before the deadline' };
  if (error instanceof NotShardOwnerError) {
    const metadata = new Metadata();
    metadata.set(RETRY_AFTER_MS_KEY, String(error.retryAfterMs));
    if (error.ownerAddr !== null) metadata.set(SHARD_OWNER_KEY, error.ownerAddr);
    return { code: status.UNAVAILABLE, details: 'the account\'s shard is moving between instances; retry shortly', metadata };
  }
  if (error instanceof PeerStatusError) {
    const metadata = new Metadata();
    for (const key of [RETRY_AFTER_MS_KEY, SHARD_OWNER_KEY]) for (const value of error.trailers.get(key)) metadata.set(key, value);
    return { code: error.code, details: error.details, metadata };
  }
  if (error instanceof ShuttingDownError) return { code: status.UNAVAILABLE, details: 'the service is shutting down; retry on another instance' };
  // The attestation family's messages are fixed sentences with no secret (src/attestation/errors.ts).
  if (error instanceof SealedCredentialError || error instanceof WritableCredentialError || error instanceof InvalidAttestationRequestError) {
    return { code: status.INVALID_ARGUMENT, details: error.message };
  }
  if (error instanceof AttestationUnavailableError) return { code: status.FAILED_PRECONDITION, details: error.message };
  if (error instanceof AttestationDeviceError) return { code: status.INTERNAL, details: 'the attestation device failed to produce a report' };
  if (error instanceof CallCancelledError) return { code: status.CANCELLED, details: 'cancelled by the client' };
  return { code: status.UNKNOWN, details: UNKNOWN_DETAILS };
}
