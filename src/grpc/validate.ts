// Request validation at the gRPC edge. Every problem is reported (not just the first) with a
// reason that names the field and what is expected, never the value received: a misplaced API
// key pasted into user_uid must not come back in an error.
import { DISCLOSURE_LEVELS, type DisclosureLevel } from '../domain/disclosure.js';
import { EXCHANGES, type AccountKey, type Exchange } from '../domain/types.js';
import { InvalidArgumentError } from './errors.js';
import type { SyncType } from './generated/enclave.js';
import { syncModeFromWire } from './wire.js';
import type { SyncMode } from '../domain/types.js';
import type { RegistrationOptions, ReportRequest, TimeRange } from './enclave-api.js';
import type { ReportPeriod } from './generated/enclave.js';
import { reportPeriodFromWire } from './wire.js';
import { BENCHMARKS, REPORT_CURRENCIES, type BenchmarkName, type ReportCurrency } from '../domain/report/currency.js';

/**
 * user_uid: the gateway's opaque user id (UUIDs, "user_123", "auth0|..."-style ids mapped to
 * ":"). 1-128 characters of A-Z a-z 0-9 _ . : @ -. Anything else (quotes, ";", spaces, "%",
 * backslashes, NUL, non-ASCII) is rejected with INVALID_ARGUMENT rather than stored literally:
 * ids outside this set are never legitimate, and rejecting them keeps them out of logs, actor
 * names and metric labels as well as SQL (which is parameterized regardless).
 */
export const USER_UID_PATTERN = /^[A-Za-z0-9_.:@-]{1,128}$/u;
export const USER_UID_RULE = '1-128 characters of A-Z a-z 0-9 _ . : @ -';

/** Latest instant a JavaScript Date can hold; int64 inputs past it are nonsense. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;

export interface ValidationLimits {
  /** Exchanges this instance serves (no `simulated` in enclave mode). */
  readonly exchanges: readonly Exchange[];
  /** Widest [from, to) a range query may ask for, ms. Bounds reply size. */
  readonly maxRangeMs: number;
}

export const DEFAULT_MAX_RANGE_MS = 366 * 24 * 3_600_000;

/** Marks a request whose bytes could not be decoded (see service.ts). */
export const UNDECODABLE: unique symbol = Symbol('undecodable');

interface Violation {
  readonly field: string;
  readonly reason: string;
}

class Checker {
  readonly violations: Violation[] = [];
  add(field: string, reason: string): void {
    this.violations.push({ field, reason });
  }
  done(): void {
    if (this.violations.length > 0) throw new InvalidArgumentError(this.violations);
  }
}

function checkDecodable(request: object, c: Checker): void {
  if (UNDECODABLE in request) c.add('request', 'could not be decoded (malformed bytes, or an int64 beyond ±2^53)');
}

function checkAccount(request: { readonly userUid: string; readonly exchange: string }, limits: ValidationLimits, c: Checker): AccountKey {
  if (!USER_UID_PATTERN.test(request.userUid)) c.add('user_uid', `must be ${USER_UID_RULE}`);
  const exchange = limits.exchanges.find((e) => e === request.exchange);
  if (exchange === undefined) c.add('exchange', `must be one of ${limits.exchanges.join(', ')}`);
  return { userUid: request.userUid, exchange: exchange ?? EXCHANGES[0] };
}

function checkRange(request: { readonly fromMs: number; readonly toMs: number }, limits: ValidationLimits, c: Checker): TimeRange {
  const { fromMs, toMs } = request;
  let ok = true;
  for (const [field, value] of [['from_ms', fromMs], ['to_ms', toMs]] as const) {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_EPOCH_MS) {
      c.add(field, 'must be epoch milliseconds between 0 and 8.64e15');
      ok = false;
    }
  }
  if (ok && toMs <= fromMs) c.add('to_ms', 'must be after from_ms');
  else if (ok && toMs - fromMs > limits.maxRangeMs) c.add('to_ms', `must be at most ${limits.maxRangeMs} ms after from_ms`);
  return { from: fromMs, to: toMs };
}

function checkSyncType(type: SyncType, c: Checker): SyncMode {
  const mode = syncModeFromWire(type);
  // UNSPECIFIED, UNRECOGNIZED and numbers from a newer schema alike.
  if (mode === null) c.add('type', 'must be SYNC_TYPE_INCREMENTAL or SYNC_TYPE_FULL');
  return mode ?? 'incremental';
}

export function validateSync(
  request: { readonly userUid: string; readonly exchange: string; readonly type: SyncType },
  limits: ValidationLimits,
): { readonly account: AccountKey; readonly mode: SyncMode } {
  const c = new Checker();
  checkDecodable(request, c);
  const account = checkAccount(request, limits, c);
  const mode = checkSyncType(request.type, c);
  c.done();
  return { account, mode };
}

export function validateAccountRequest(request: { readonly userUid: string; readonly exchange: string }, limits: ValidationLimits): AccountKey {
  const c = new Checker();
  checkDecodable(request, c);
  const account = checkAccount(request, limits, c);
  c.done();
  return account;
}

export function validateRangeRequest(
  request: { readonly userUid: string; readonly exchange: string; readonly fromMs: number; readonly toMs: number },
  limits: ValidationLimits,
): { readonly account: AccountKey; readonly range: TimeRange } {
  const c = new Checker();
  checkDecodable(request, c);
  const account = checkAccount(request, limits, c);
  const range = checkRange(request, limits, c);
  c.done();
  return { account, range };
}

/** A statement's period: both bounds 0 for the whole record, else a range of any span. */
export function validateStatementRequest(
  request: { readonly userUid: string; readonly exchange: string; readonly fromMs: number; readonly toMs: number },
  limits: ValidationLimits,
): { readonly account: AccountKey; readonly range: TimeRange | null } {
  const c = new Checker();
  checkDecodable(request, c);
  const account = checkAccount(request, limits, c);
  const whole = request.fromMs === 0 && request.toMs === 0;
  if (!whole && !(Number.isSafeInteger(request.fromMs) && Number.isSafeInteger(request.toMs) && request.fromMs >= 0 && request.fromMs < request.toMs)) {
    c.add('from_ms', 'with to_ms: both 0 (the whole record) or 0 <= from_ms < to_ms');
  }
  c.done();
  return { account, range: whole ? null : { from: request.fromMs, to: request.toMs } };
}

export function validateWhois(request: { readonly label: string }): string {
  const c = new Checker();
  checkDecodable(request, c);
  if (!/^acct_[0-9a-f]{32}$/u.test(request.label)) c.add('label', 'must be acct_ followed by 32 lowercase hex digits');
  c.done();
  return request.label;
}

/** Largest sealed credential accepted (a credential is well under 1 KiB). */
export const SEALED_CREDENTIAL_MAX_BYTES = 16 * 1024;

export function validateRegistration(
  request: { readonly userUid: string; readonly exchange: string; readonly sealedCredential: Uint8Array; readonly acceptTradingKeyRisk: boolean; readonly disclosureLevel?: number },
  limits: ValidationLimits,
): { readonly account: AccountKey; readonly sealed: Uint8Array; readonly options: RegistrationOptions } {
  const c = new Checker();
  checkDecodable(request, c);
  const account = checkAccount(request, limits, c);
  const size = request.sealedCredential.byteLength;
  if (size === 0 || size > SEALED_CREDENTIAL_MAX_BYTES) c.add('sealed_credential', `must be 1 to ${SEALED_CREDENTIAL_MAX_BYTES} bytes of HPKE ciphertext`);
  const level = request.disclosureLevel === undefined || request.disclosureLevel === 0 ? null : disclosureLevelOf(request.disclosureLevel);
  if (level === undefined) c.add('disclosure_level', 'must be RETURNS, EQUITY or FULL (or unspecified)');
  c.done();
  return { account, sealed: request.sealedCredential, options: { acceptTradingKeyRisk: request.acceptTradingKeyRisk, disclosureLevel: level ?? null } };
}

/** DisclosureLevel enum values 1..3 in the order of DISCLOSURE_LEVELS; undefined for anything else. */
function disclosureLevelOf(value: number): DisclosureLevel | undefined {
  return Number.isInteger(value) ? DISCLOSURE_LEVELS[value - 1] : undefined;
}

export function validateSetDisclosureLevel(
  request: { readonly userUid: string; readonly exchange: string; readonly level: number },
  limits: ValidationLimits,
): { readonly account: AccountKey; readonly level: DisclosureLevel } {
  const c = new Checker();
  checkDecodable(request, c);
  const account = checkAccount(request, limits, c);
  const level = disclosureLevelOf(request.level);
  if (level === undefined) c.add('level', 'must be RETURNS, EQUITY or FULL');
  c.done();
  return { account, level: level ?? 'returns' };
}

export function validateNonce(request: { readonly nonce: Uint8Array }, range: { readonly min: number; readonly max: number }): Uint8Array {
  const c = new Checker();
  checkDecodable(request, c);
  if (request.nonce.byteLength < range.min || request.nonce.byteLength > range.max) c.add('nonce', `must be ${range.min} to ${range.max} bytes`);
  c.done();
  return request.nonce;
}

/** Exhaustive over the request-free calls: only decodability to check. */
export function validateEmpty(request: object): void {
  const c = new Checker();
  checkDecodable(request, c);
  c.done();
}

/** Largest annual rate accepted for the risk-free rate or the Sortino target (fractions). */
const MAX_ANNUAL_RATE = 10;

export function validateReportRequest(
  request: {
    readonly userUid: string; readonly exchange: string; readonly period: ReportPeriod; readonly fromMs: number; readonly toMs: number;
    readonly currency: string; readonly benchmark: string; readonly riskFreeRate?: number | undefined; readonly sortinoTarget?: number | undefined;
  },
  limits: ValidationLimits,
): ReportRequest {
  const c = new Checker();
  checkDecodable(request, c);
  if (!USER_UID_PATTERN.test(request.userUid)) c.add('user_uid', `must be ${USER_UID_RULE}`);
  let exchange: Exchange | null = null;
  if (request.exchange !== '') {
    exchange = limits.exchanges.find((e) => e === request.exchange) ?? null;
    if (exchange === null) c.add('exchange', `must be empty (all accounts) or one of ${limits.exchanges.join(', ')}`);
  }
  const period = reportPeriodFromWire(request.period);
  if (period === null) c.add('period', 'must be one of 1D, 7D, 30D, 90D, YTD, 1Y, 3Y, SINCE_INCEPTION, CUSTOM');
  // A custom period may span any length (the report is bounded by the published history).
  const custom = period === 'CUSTOM' ? checkRange(request, { ...limits, maxRangeMs: MAX_EPOCH_MS }, c) : null;
  const currency = request.currency === '' ? null : REPORT_CURRENCIES.find((x) => x === request.currency) ?? null;
  if (request.currency !== '' && currency === null) c.add('currency', `must be empty (base currency) or one of ${REPORT_CURRENCIES.join(', ')}`);
  const benchmark = request.benchmark === '' ? null : BENCHMARKS.find((x) => x === request.benchmark) ?? null;
  if (request.benchmark !== '' && benchmark === null) c.add('benchmark', `must be empty or one of ${BENCHMARKS.join(', ')}`);
  const rate = (field: string, value: number | undefined): number => {
    if (value === undefined) return 0;
    if (!Number.isFinite(value) || Math.abs(value) > MAX_ANNUAL_RATE) c.add(field, `must be an annual rate between -${MAX_ANNUAL_RATE} and ${MAX_ANNUAL_RATE} (a fraction)`);
    return value;
  };
  const riskFreeRate = rate('risk_free_rate', request.riskFreeRate);
  const sortinoTarget = rate('sortino_target', request.sortinoTarget);
  c.done();
  return {
    userUid: request.userUid, exchange, period: period ?? 'SI', custom,
    currency: currency satisfies ReportCurrency | null, benchmark: benchmark satisfies BenchmarkName | null,
    options: { riskFreeRate, sortinoTarget },
  };
}
