// Track-record statements: the signed document and its offline verification (issue 14, part 3).
// docs/statements.md specifies the format so that a third party can verify without this code.
import { z } from 'zod';
import { canonicalJson, type Canonical } from '../domain/canonical-json.js';
import type { EpochMs } from '../domain/types.js';
import { chainGenesis, extendChain, handoverDocument, STATEMENT_VERSION, StatementVerificationError, verifyText, type ChainedHour, type KeyHandover } from './track-record.js';

/**
 * The statement format issued now: 2 adds `derivatives`. Version 1 statements (issued before)
 * still parse and verify; the checkpoint format keeps its own version (track-record.ts).
 */
export const STATEMENT_FORMAT_VERSION = 2;
export const STATEMENT_FORMAT_VERSIONS = [1, STATEMENT_FORMAT_VERSION] as const;

/**
 * The derivatives aggregates of the whole record up to `computedUntilMs` (docs/derivatives.md):
 * ratios and counts only, from the enclave's sealed engine state (not the gateway-readable tables).
 */
export interface StatementDerivatives {
  readonly maxLeverage: number;
  readonly fundingShare: number | null;
  readonly liquidations: number;
  readonly coverageStartMs: EpochMs | null;
  readonly computedUntilMs: EpochMs;
}

/** What a version 1 statement states (every number finite, or null where the figure is undefined). */
export interface StatementBodyV1 {
  readonly v: 1;
  readonly type: 'track-record-statement';
  readonly account: string;
  readonly venue: string;
  readonly period: { readonly fromMs: EpochMs; readonly toMs: EpochMs };
  readonly coverageStartMs: EpochMs;
  readonly hours: number;
  readonly timeWeightedReturn: number;
  /** Null below one year (never annualized). */
  readonly annualizedReturn: number | null;
  readonly maxDrawdown: number;
  readonly annualizedVolatility: number;
  readonly sharpe: number | null;
  readonly sortino: number | null;
  readonly flaggedHourShare: number;
  /** The chain over every published hour of the account up to the last checkpoint. */
  readonly chain: { readonly hours: number; readonly lastHourMs: EpochMs; readonly head: string };
  /** The code that signed: the build hash bound in the attestation report ("unbuilt" from sources). */
  readonly codeMeasurement: string;
  /** Hex raw Ed25519 public key of the enclave's statement-signing key. */
  readonly signingKey: string;
  readonly issuedAtMs: EpochMs;
}

/** What a statement states now: version 1's members plus `derivatives` (null for an account without). */
export interface StatementBodyV2 extends Omit<StatementBodyV1, 'v'> {
  readonly v: typeof STATEMENT_FORMAT_VERSION;
  readonly derivatives: StatementDerivatives | null;
}

export type StatementBody = StatementBodyV1 | StatementBodyV2;

export interface SignedStatement {
  readonly statement: StatementBody;
  /** Base64 Ed25519 signature over canonicalJson(statement). */
  readonly signature: string;
  /**
   * Present when the account's chain was handed over from earlier signing keys (rotations), oldest
   * first: each signed by the key before it, naming the next. Not covered by `signature`: each
   * hand-over carries its own.
   */
  readonly handovers?: readonly SignedHandover[];
}

/** A key hand-over as published: the document (track-record.ts handoverDocument) and the previous key's signature. */
export interface SignedHandover {
  readonly handover: KeyHandover & { readonly v: typeof STATEMENT_VERSION; readonly type: 'track-record-key-handover' };
  /** Base64 Ed25519 signature by the previous key over canonicalJson(handover). */
  readonly signature: string;
}

const finite = z.number().finite();
const bodyV1Schema = z.object({
  v: z.literal(1),
  type: z.literal('track-record-statement'),
  account: z.string().regex(/^acct_[0-9a-f]{32}$/u),
  venue: z.string().min(1),
  period: z.object({ fromMs: z.number().int(), toMs: z.number().int() }).strict(),
  coverageStartMs: z.number().int(),
  hours: z.number().int().nonnegative(),
  timeWeightedReturn: finite,
  annualizedReturn: finite.nullable(),
  maxDrawdown: finite,
  annualizedVolatility: finite,
  sharpe: finite.nullable(),
  sortino: finite.nullable(),
  flaggedHourShare: finite,
  chain: z.object({ hours: z.number().int().positive(), lastHourMs: z.number().int(), head: z.string().regex(/^[0-9a-f]{64}$/u) }).strict(),
  codeMeasurement: z.string().min(1),
  signingKey: z.string().regex(/^[0-9a-f]{64}$/u),
  issuedAtMs: z.number().int(),
}).strict();
const bodyV2Schema = bodyV1Schema.extend({
  v: z.literal(STATEMENT_FORMAT_VERSION),
  derivatives: z.object({
    maxLeverage: finite.nonnegative(), fundingShare: finite.nullable(), liquidations: z.number().int().nonnegative(),
    coverageStartMs: z.number().int().nullable(), computedUntilMs: z.number().int(),
  }).strict().nullable(),
}).strict();
const signatureText = z.string().regex(/^[A-Za-z0-9+/]{86}==$/u);
const handoverSchema = z.object({
  handover: z.object({
    v: z.literal(STATEMENT_VERSION),
    type: z.literal('track-record-key-handover'),
    account: z.string().regex(/^acct_[0-9a-f]{32}$/u),
    hours: z.number().int().positive(),
    lastHourMs: z.number().int(),
    head: z.string().regex(/^[0-9a-f]{64}$/u),
    signedAtMs: z.number().int(),
    nextSigningKey: z.string().regex(/^[0-9a-f]{64}$/u),
  }).strict(),
  signature: signatureText,
}).strict();
const signedSchema = z.object({ statement: z.discriminatedUnion('v', [bodyV1Schema, bodyV2Schema]), signature: signatureText, handovers: z.array(handoverSchema).optional() }).strict();
const seriesSchema = z.array(z.object({ hourStartMs: z.number().int(), return: z.number(), flags: z.number().int().nonnegative() }).strict());

export function statementText(body: StatementBody): string {
  return canonicalJson(body as unknown as Canonical);
}

/** Parses a statement document (JSON text); StatementVerificationError when it is not one. */
export function parseStatement(text: string): SignedStatement {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StatementVerificationError('the statement is not JSON');
  }
  const parsed = signedSchema.safeParse(json);
  if (!parsed.success) throw new StatementVerificationError(`the statement is not a version ${STATEMENT_FORMAT_VERSIONS.join(' or ')} track-record statement (${parsed.error.issues.map((i) => i.path.join('.')).join(', ')})`);
  return parsed.data as SignedStatement;
}

/** Parses a published hourly series: JSON [{"hourStartMs", "return", "flags"}], as hourly_returns holds it. */
export function parseSeries(text: string): ChainedHour[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new StatementVerificationError('the series is not JSON');
  }
  const parsed = seriesSchema.safeParse(json);
  if (!parsed.success) throw new StatementVerificationError('the series is not a list of {hourStartMs, return, flags}');
  return parsed.data.map((h) => ({ hourStart: h.hourStartMs, return: h.return, flags: h.flags })).sort((a, b) => a.hourStart - b.hourStart);
}

export interface StatementCheck {
  /** The statement's signature verifies under its signing key. */
  readonly signature: true;
  /** The signing key is the one the caller trusts (from an attested identity or a pin), directly or through the hand-overs; null when none was given. */
  readonly trustedKey: boolean | null;
  /** Hand-overs followed from the trusted key to the signing key (0: signed by the trusted key itself). */
  readonly handovers: number;
  /** The published series hashes to the chain head; null when no series was given. */
  readonly series: boolean | null;
}

/**
 * Checks a statement: its signature (always), the signing key against `trustedPublicKey` (the key
 * bound in a verified attestation report, or a pin), and, given the published hourly series, that
 * the series' first `chain.hours` hours hash to `chain.head`. Throws StatementVerificationError on
 * the first failure.
 */
export function verifyStatement(signed: SignedStatement, options: { readonly trustedPublicKey?: Uint8Array; readonly series?: readonly ChainedHour[] } = {}): StatementCheck {
  const { statement } = signed;
  const key = Buffer.from(statement.signingKey, 'hex');
  if (!verifyText(key, statementText(statement), Buffer.from(signed.signature, 'base64'))) throw new StatementVerificationError('the signature does not verify under the statement\'s signing key');
  let trustedKey: boolean | null = null;
  let followed = 0;
  if (options.trustedPublicKey !== undefined) {
    // The trusted key signed the statement, or handed the chain over (possibly in steps) to the key that did.
    let current = Buffer.from(options.trustedPublicKey);
    for (const h of signed.handovers ?? []) {
      if (current.equals(key)) break;
      if (h.handover.account !== statement.account) throw new StatementVerificationError('a key hand-over names another account');
      if (!verifyText(current, canonicalJson(handoverDocument(h.handover)), Buffer.from(h.signature, 'base64'))) {
        throw new StatementVerificationError('a key hand-over is not signed by the key it hands over from');
      }
      if (h.handover.hours > statement.chain.hours) throw new StatementVerificationError('a key hand-over lies beyond the statement\'s chain');
      current = Buffer.from(h.handover.nextSigningKey, 'hex');
      followed += 1;
    }
    if (!current.equals(key)) throw new StatementVerificationError('the statement was signed by another key than the attested one');
    trustedKey = true;
  }
  let series: boolean | null = null;
  if (options.series !== undefined) {
    const covered = options.series.slice(0, statement.chain.hours);
    if (covered.length < statement.chain.hours) throw new StatementVerificationError(`the series has ${options.series.length} hours, the chain covers ${statement.chain.hours}`);
    const head = extendChain(chainGenesis(statement.account), covered).toString('hex');
    if (head !== statement.chain.head || covered.at(-1)?.hourStart !== statement.chain.lastHourMs) {
      throw new StatementVerificationError('the published series does not hash to the signed chain head: it was changed after the statement was signed');
    }
    // Each hand-over's head is the chain's head at that point: the chain did not restart at the rotation.
    for (const h of signed.handovers ?? []) {
      const prefix = covered.slice(0, h.handover.hours);
      if (extendChain(chainGenesis(statement.account), prefix).toString('hex') !== h.handover.head || prefix.at(-1)?.hourStart !== h.handover.lastHourMs) {
        throw new StatementVerificationError('a key hand-over\'s head is not on the published chain: the record was rewritten at the rotation');
      }
    }
    series = true;
  }
  return { signature: true, trustedKey, handovers: followed, series };
}

/**
 * Whether `newer`'s chain extends `older`'s: over the series that verifies `newer`, the head after
 * `older.chain.hours` hours must be `older.chain.head`. False is a fork: the record was rewritten
 * between the two statements (a recomputation or a replayed history).
 */
export function chainExtends(older: SignedStatement, newer: SignedStatement, series: readonly ChainedHour[]): boolean {
  if (older.statement.account !== newer.statement.account || older.statement.chain.hours > newer.statement.chain.hours) return false;
  verifyStatement(newer, { series });
  const prefix = series.slice(0, older.statement.chain.hours);
  return prefix.length === older.statement.chain.hours && extendChain(chainGenesis(older.statement.account), prefix).toString('hex') === older.statement.chain.head;
}
