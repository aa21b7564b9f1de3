// The first valuation of an account whose venue serves fills only from a coverage start (Bitget
// 90 days, MEXC 30, Bybit 2 years): the opening position the history is missing is booked at that
// start (src/domain/history-cut.ts) before the engine runs, so a position bought before the cut and
// sold after it is not an oversold and its buy's cost is not counted twice. Runs once per account:
// on the first valuation only, and never when an opening was booked already.
import type { Logger } from 'pino';
import { bookRealizedFlows } from '../domain/derivatives/book.js';
import { isHistoryCutFlow, openingAtHistoryCut } from '../domain/history-cut.js';
import { accountId, type AccountKey, type EpochMs, type SyncCursor } from '../domain/types.js';
import type { VenueConnector } from '../exchanges/connector.js';
import { VenueError } from '../exchanges/errors.js';
import type { AccountStore } from '../storage/account-store.js';
import { isSpotFill } from './derivatives-valuation.js';

export interface HistoryCutRun {
  readonly account: AccountKey;
  readonly generation: number;
  readonly connector: VenueConnector;
  /** The cash-flow cursor just committed (the opening is stored with it, like reconciliation's adjustments). */
  readonly cashFlowsCursor: SyncCursor | null;
  readonly coverageStart: EpochMs;
  readonly signal: AbortSignal;
}

/** Books the missing opening position; the number of assets booked (0 when none or when balances are unavailable). */
export async function bookHistoryCut(store: AccountStore, run: HistoryCutRun, logger?: Logger): Promise<number> {
  const { account, connector, signal } = run;
  if (run.cashFlowsCursor === null) return 0;
  const [fills, flows] = await Promise.all([store.loadFills(account, 0), store.loadCashFlows(account, 0)]);
  if (flows.some(isHistoryCutFlow)) return 0;
  let balances;
  try {
    balances = await connector.fetchBalances(signal);
  } catch (error) {
    if (!(error instanceof VenueError)) throw error;
    // Without balances the older position cannot be known: the engine's oversold rule applies (flagged).
    logger?.warn({ account: accountId(account), kind: error.kind }, 'venue balances unavailable: no opening position at the history cut');
    return 0;
  }
  // Contract executions move no wallet balance by themselves (the ledger books their P&L): spot fills
  // only, plus the P&L and fees the book realizes where the venue has no ledger of them (MEXC futures).
  const realized = bookRealizedFlows(fills.filter((f) => !isSpotFill(f)));
  const opening = openingAtHistoryCut({ balances, fills: fills.filter(isSpotFill), flows: [...flows, ...realized], coverageStart: run.coverageStart });
  if (opening.length > 0) await store.commitCashFlowsPage(account, opening, run.cashFlowsCursor, run.generation);
  return opening.length;
}
