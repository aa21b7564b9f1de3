// GetTrackRecordStatement: a signed summary of an account's published record over a period
// (src/crypto/statement.ts has the format). Signed only over hours that still hash to the
// account's last signed checkpoint: the published table is outside the enclave, so it is checked,
// never trusted. Reads storage directly (no actor): a statement changes nothing.
import { AccountNotFoundError, PublishedRecordError } from '../actors/errors.js';
import { computePerformanceStats } from '../domain/performance.js';
import { maskToFlags } from '../domain/hour-flags.js';
import { accountId, type AccountKey, type HourlyReturn } from '../domain/types.js';
import { chainGenesis, extendChain, STATEMENT_VERSION, type CheckpointSigner } from '../crypto/track-record.js';
import { STATEMENT_FORMAT_VERSION, statementText, type SignedHandover, type SignedStatement, type StatementBodyV2, type StatementDerivatives } from '../crypto/statement.js';
import { parseEngineEnvelope } from '../actors/sync-activity.js';
import { checkpointSignedBy, type CheckpointStore } from '../storage/checkpoint-store.js';
import type { AccountStore } from '../storage/account-store.js';
import type { CallContext, EnclaveApi, TimeRange } from '../grpc/enclave-api.js';

const HOUR = 3_600_000;

export interface StatementDeps {
  readonly checkpoints: CheckpointStore;
  /** The sealed engine state holds the derivatives figures a statement signs (never the published tables). */
  readonly store: Pick<AccountStore, 'loadConnectionStatus' | 'loadEngineState'>;
  readonly signer: CheckpointSigner;
  /** The build hash bound in the attestation report (GetEnclaveIdentity's build_hash). */
  readonly codeMeasurement: string;
}

const orNull = (x: number | null): number | null => (x === null || !Number.isFinite(x) ? null : x);
const orZero = (x: number): number => (Number.isFinite(x) ? x : 0);

export function createStatementIssuer(deps: StatementDeps): (account: AccountKey, range: TimeRange | null, signal?: AbortSignal) => Promise<SignedStatement> {
  return async (account, range, signal) => {
    const status = await deps.store.loadConnectionStatus(account);
    if (status === null || status === 'disabled') throw new AccountNotFoundError(`no connection for ${accountId(account)}`);
    const checkpoint = await deps.checkpoints.latestCheckpoint(account);
    if (checkpoint === null) throw new PublishedRecordError('no signed checkpoint yet: the account has published no hour since statements began');
    if (!checkpointSignedBy(checkpoint, deps.signer.publicKey)) throw new PublishedRecordError('the last checkpoint does not carry this enclave\'s signature');
    const published = await deps.checkpoints.chainedHours(account);
    signal?.throwIfAborted();
    const covered = published.slice(0, checkpoint.hours);
    const head = extendChain(chainGenesis(checkpoint.account), covered).toString('hex');
    if (covered.length !== checkpoint.hours || head !== checkpoint.head || covered.at(-1)?.hourStart !== checkpoint.lastHourMs) {
      throw new PublishedRecordError('the published hours no longer hash to the last signed checkpoint: they were changed outside the enclave');
    }
    const from = range?.from ?? covered[0]!.hourStart;
    const to = range?.to ?? checkpoint.lastHourMs + HOUR;
    const inPeriod = covered.filter((h) => h.hourStart >= from && h.hourStart < to);
    const asReturns = inPeriod.map((h): HourlyReturn => ({ hourStart: h.hourStart, return: h.return, cumulativeReturn: 0, equityEnd: 0, netFlow: 0, ...(h.flags === 0 ? {} : { flags: maskToFlags(h.flags) }) }));
    const stats = computePerformanceStats(asReturns, { realizedPnl: 0, unrealizedPnl: 0, totalFees: 0 });
    const statement: StatementBodyV2 = {
      v: STATEMENT_FORMAT_VERSION,
      type: 'track-record-statement',
      account: checkpoint.account,
      venue: account.exchange,
      period: { fromMs: from, toMs: to },
      coverageStartMs: covered[0]!.hourStart,
      hours: inPeriod.length,
      timeWeightedReturn: orZero(stats.cumulativeReturn),
      annualizedReturn: orNull(stats.annualizedReturn),
      maxDrawdown: orZero(stats.maxDrawdown),
      annualizedVolatility: orZero(stats.annualizedVolatility),
      sharpe: orNull(stats.sharpe),
      sortino: orNull(stats.sortino),
      flaggedHourShare: inPeriod.length === 0 ? 0 : inPeriod.filter((h) => h.flags !== 0).length / inPeriod.length,
      chain: { hours: checkpoint.hours, lastHourMs: checkpoint.lastHourMs, head: checkpoint.head },
      codeMeasurement: deps.codeMeasurement,
      signingKey: deps.signer.publicKey.toString('hex'),
      issuedAtMs: deps.signer.now(),
      derivatives: await derivativesOf(deps.store, account),
    };
    const signature = await deps.signer.sign(statementText(statement));
    // Rotations of the signing key on this chain: the hand-overs lead a verifier who trusts an
    // earlier key (from an earlier attestation) to this one (docs/statements.md "Key rotation").
    const handovers = (await deps.checkpoints.handovers(account))
      .filter((h) => h.account === checkpoint.account && h.hours <= checkpoint.hours && h.nextPublicKey !== null)
      .map((h): SignedHandover => ({
        handover: {
          v: STATEMENT_VERSION, type: 'track-record-key-handover', account: h.account, hours: h.hours, lastHourMs: h.lastHourMs, head: h.head,
          signedAtMs: h.signedAtMs, nextSigningKey: h.nextPublicKey!.toString('hex'),
        },
        signature: h.signature.toString('base64'),
      }));
    return { statement, signature: signature.toString('base64'), ...(handovers.length === 0 ? {} : { handovers }) };
  };
}

/**
 * The record's derivatives figures as the last sync sealed them (sync-activity.ts's envelope): the
 * published derivative_* tables are outside the enclave and could be edited, the sealed state cannot
 * be without failing to open. Null for an account without derivatives records.
 */
async function derivativesOf(store: Pick<AccountStore, 'loadEngineState'>, account: AccountKey): Promise<StatementDerivatives | null> {
  const envelope = parseEngineEnvelope(await store.loadEngineState(account));
  const d = envelope?.derivatives;
  if (envelope === null || d === undefined) return null;
  return {
    maxLeverage: orZero(d.maxLeverage), fundingShare: orNull(d.fundingShare ?? null), liquidations: d.liquidations,
    coverageStartMs: d.coverageStart ?? null, computedUntilMs: envelope.computedUntil,
  };
}

/** The port method GetTrackRecordStatement calls: the statement as its JSON text. */
export function statementApi(issue: ReturnType<typeof createStatementIssuer>): Pick<EnclaveApi, 'trackRecordStatement'> {
  return {
    async trackRecordStatement(account: AccountKey, range: TimeRange | null, call: CallContext): Promise<string> {
      return JSON.stringify(await issue(account, range, call.signal));
    },
  };
}

/** Whois: the connected account whose pseudonym is `label` (a scan of the connections: an operator's rare question). */
export function whoisApi(listConnections: () => Promise<readonly { readonly account: AccountKey }[]>, pseudonym: (account: AccountKey) => string): Pick<EnclaveApi, 'whois'> {
  return {
    async whois(label: string, call: CallContext): Promise<AccountKey | null> {
      call.signal.throwIfAborted();
      return (await listConnections()).find((c) => pseudonym(c.account) === label)?.account ?? null;
    },
  };
}
