// How derivative records travel through the existing fills and cash-flow streams (one table each,
// no second copy of the ingest path): a contract fill is a Fill whose symbol is a ccxt contract
// symbol; a ledger entry (realized P&L, funding, fee, settlement, liquidation) is an income or
// expense CashFlow in the margin asset. What kind of record it is rides in its venue id, which never
// leaves the enclave: `drv:<kind>:<venue id>`. Pure.
import type { CashFlow, DecimalString, EpochMs } from '../types.js';

/** Executions the book applies: a trade, a liquidation (bust) fill, an auto-deleveraging fill, a delivery/settlement fill. */
export const EXECUTION_KINDS = ['trade', 'liquidation', 'adl', 'settlement'] as const;
export type ExecutionKind = (typeof EXECUTION_KINDS)[number];

/**
 * Ledger entries, each a performance event in the margin asset (never an external flow):
 * realized-pnl (closing P&L), funding (paid or received), fee (commission or rebate),
 * settlement (delivery P&L of a dated future), liquidation (fee or insurance clearance of a liquidation).
 */
export const LEDGER_KINDS = ['realized-pnl', 'funding', 'fee', 'settlement', 'liquidation'] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

const PREFIX = 'drv:';

export function executionId(kind: ExecutionKind, venueId: string): string {
  return `${PREFIX}${kind}:${venueId}`;
}

/**
 * Executions of a venue that keeps no ledger of realized P&L and fees (MEXC futures): the book
 * realizes their P&L when they close a position (at the fill price, against the average entry) and
 * books their fee (`Fill.fee` in `Fill.feeAsset`), instead of a ledger. Marked inside the venue id.
 */
const BOOK_REALIZED = 'book:';

export function bookRealizedExecutionId(kind: ExecutionKind, venueId: string): string {
  return executionId(kind, `${BOOK_REALIZED}${venueId}`);
}

/** Whether the book, not a ledger, realizes this contract fill's P&L and fee. */
export function isBookRealized(exchangeTradeId: string): boolean {
  const kind = kindOf(exchangeTradeId, EXECUTION_KINDS);
  return kind !== null && exchangeTradeId.startsWith(BOOK_REALIZED, PREFIX.length + kind.length + 1);
}

export function ledgerId(kind: LedgerKind, venueId: string): string {
  return `${PREFIX}${kind}:${venueId}`;
}

function kindOf<K extends string>(id: string, kinds: readonly K[]): K | null {
  if (!id.startsWith(PREFIX)) return null;
  const end = id.indexOf(':', PREFIX.length);
  if (end < 0) return null;
  const kind = id.slice(PREFIX.length, end);
  return (kinds as readonly string[]).includes(kind) ? (kind as K) : null;
}

/** The execution kind of a contract fill's id (`trade` for an id without one). */
export function executionKindOf(exchangeTradeId: string): ExecutionKind {
  return kindOf(exchangeTradeId, EXECUTION_KINDS) ?? 'trade';
}

/** The ledger kind of a cash flow's id; null for every record that is not a derivatives ledger entry. */
export function ledgerKindOf(exchangeFlowId: string): LedgerKind | null {
  return kindOf(exchangeFlowId, LEDGER_KINDS);
}

/**
 * A signed ledger amount (positive: paid to the account) as a CashFlow: income when positive,
 * expense when negative, nothing when zero.
 */
export function ledgerFlow(kind: LedgerKind, venueId: string, asset: string, signedAmount: DecimalString, occurredAt: EpochMs): CashFlow | null {
  const negative = signedAmount.startsWith('-');
  const magnitude = negative ? signedAmount.slice(1) : signedAmount;
  if (!/[1-9]/.test(magnitude)) return null;
  return { exchangeFlowId: ledgerId(kind, venueId), kind: negative ? 'expense' : 'income', asset, amount: magnitude, occurredAt };
}
