// One retry policy for every venue: exponential backoff with full jitter, Retry-After honoured,
// a bounded total time, then a typed VenueError naming the venue and the class of cause.
import { VenueError, type VenueFailureKind } from './errors.js';
import { setTimeout as sleepMs } from 'node:timers/promises';
import type { Exchange } from '../domain/types.js';
import type { ConnectorOptions } from './connector.js';



/** A call on a connector after close(): a definitive refusal, the same from every venue. */
export function connectorClosed(exchange: Exchange): VenueError {
  return new VenueError(exchange, 'rejected', { errorClass: 'ConnectorClosed' });
}

/** What a connector says about one failed attempt. */
export interface FailureClass {
  readonly kind: VenueFailureKind;
  readonly retryable: boolean;
  readonly status?: number;
  readonly errorClass?: string;
  /** The venue's Retry-After, when it gave one. */
  readonly retryAfterMs?: number;
}

export interface RetryPolicy {
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Total time for all attempts of one operation; past it the last failure is reported. */
  readonly budgetMs: number;
  readonly maxAttempts: number;
  /** Per-attempt timeout; the attempt's signal aborts then. */
  readonly attemptTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  baseDelayMs: 250,
  maxDelayMs: 30_000,
  budgetMs: 120_000,
  maxAttempts: 8,
  attemptTimeoutMs: 30_000,
};

export interface RetryDeps {
  readonly now: () => number;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random: () => number;
}

const realDeps: RetryDeps = {
  now: () => Date.now(),
  sleep: async (ms, signal) => {
    await sleepMs(ms, undefined, signal === undefined ? undefined : { signal });
  },
  random: Math.random,
};

/** Parses an HTTP Retry-After value (seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/**
 * Runs `attempt` until it succeeds, fails definitively, or the budget runs out.
 * `classify` turns whatever the SDK threw into a FailureClass; an AbortError from the caller's
 * signal is rethrown as is (the caller cancelled, nothing failed).
 */
export async function withRetry<T>(
  exchange: Exchange,
  attempt: (signal: AbortSignal) => Promise<T>,
  classify: (error: unknown) => FailureClass,
  options: { readonly policy?: Partial<RetryPolicy>; readonly signal?: AbortSignal; readonly deps?: RetryDeps } = {},
): Promise<T> {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.policy };
  const deps = options.deps ?? realDeps;
  const started = deps.now();
  for (let attemptNo = 1; ; attemptNo += 1) {
    options.signal?.throwIfAborted();
    const attemptSignal = options.signal === undefined
      ? AbortSignal.timeout(policy.attemptTimeoutMs)
      : AbortSignal.any([options.signal, AbortSignal.timeout(policy.attemptTimeoutMs)]);
    let failure: FailureClass;
    try {
      return await attempt(attemptSignal);
    } catch (error) {
      if (options.signal?.aborted === true) throw options.signal.reason;
      failure = attemptSignal.aborted ? { kind: 'timeout', retryable: true } : classify(error);
    }
    const detail = { status: failure.status, errorClass: failure.errorClass, attempts: attemptNo };
    if (!failure.retryable || attemptNo >= policy.maxAttempts) throw new VenueError(exchange, failure.kind, detail);
    const backoff = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attemptNo - 1)) * deps.random();
    const delay = Math.max(backoff, failure.retryAfterMs ?? 0);
    if (deps.now() - started + delay > policy.budgetMs) throw new VenueError(exchange, failure.kind, detail);
    await deps.sleep(delay, options.signal);
  }
}

/** A connector's retry policy: its `retry` tuning over the request budget, over the defaults. */
export function retryPolicyFor(options: Pick<ConnectorOptions, 'requestBudgetMs' | 'retry'>): Partial<RetryPolicy> {
  return {
    ...(options.requestBudgetMs === undefined ? {} : { budgetMs: options.requestBudgetMs }),
    ...options.retry,
  };
}

/** `withRetry` bound to one connector's venue, classifier and policy: `call(attempt, signal?)`. */
export function retrying(exchange: Exchange, classify: (error: unknown) => FailureClass, policy: Partial<RetryPolicy>) {
  return async <T>(attempt: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> =>
    await withRetry(exchange, attempt, classify, { policy, ...(signal === undefined ? {} : { signal }) });
}
