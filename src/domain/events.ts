// Account events beyond trades and external transfers, and the rule the engine applies to each.
// They travel as CashFlow records (one stream, one table) whose `kind` says how they count:
//
// - deposit / withdrawal: external flows (Modified Dietz F), valued at the asset's mark. Transfers
//   in kind (ACATS, journals, internal transfers from another account of the holder, fiat deposits)
//   are external flows too, valued at the mark.
// - income: dividends, interest earned, staking/Earn rewards, fee refunds, airdrops. Performance:
//   the asset arrives at its mark as cost basis and the same value is realized P&L; no flow.
// - expense: withholding tax, account fees, borrow/margin interest. Performance: the asset leaves
//   at its mark, the value is realized as a loss; no flow.
// - split: a stock split or reverse split. `amount` is the quantity change (split-in adds,
//   split-out removes); value and cost basis are unchanged (cost per unit scales), so a split on
//   unadjusted marks creates no return.
// - adjustment-in / adjustment-out: what reconciliation with the venue's balances could not explain
//   (reconcile.ts). External flows at the mark, like the oversold rule: no return from them, and
//   every one is flagged.
//
// A merger converts one position into another and/or cash: an expense of the old position and
// income of the new position and of the cash, each at its mark at the hour start; with consistent
// marks equity does not jump, so the hour's return is right (realized P&L shows the exchange).
// Maker rebates are fills with a negative fee; assignments and expiries are fills at price 0;
// a fill whose base and quote are the same asset (an auto-FX in the base currency) moves nothing
// but its fee.
import type { CashFlowKind } from './types.js';

export const CASH_FLOW_KINDS = ['deposit', 'withdrawal', 'income', 'expense', 'split-in', 'split-out', 'adjustment-in', 'adjustment-out'] as const;

/** How the engine counts a kind: 0 external flow, 1 performance (income/expense), 2 quantity only. */
export const FLOW_TREATMENT = { external: 0, performance: 1, quantity: 2 } as const;

export function isCashFlowKind(value: unknown): value is CashFlowKind {
  return typeof value === 'string' && (CASH_FLOW_KINDS as readonly string[]).includes(value);
}

/** +1 when the kind adds the asset to the account, −1 when it takes it out. */
export function directionOf(kind: CashFlowKind): 1 | -1 {
  return kind === 'deposit' || kind === 'income' || kind === 'split-in' || kind === 'adjustment-in' ? 1 : -1;
}

export function treatmentOf(kind: CashFlowKind): (typeof FLOW_TREATMENT)[keyof typeof FLOW_TREATMENT] {
  switch (kind) {
    case 'deposit': case 'withdrawal': case 'adjustment-in': case 'adjustment-out': return FLOW_TREATMENT.external;
    case 'income': case 'expense': return FLOW_TREATMENT.performance;
    case 'split-in': case 'split-out': return FLOW_TREATMENT.quantity;
  }
}

/** Kinds that count as external flows in published net flow figures. */
export function isExternal(kind: CashFlowKind): boolean {
  return treatmentOf(kind) === FLOW_TREATMENT.external;
}
