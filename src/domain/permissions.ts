// The read-only policy for venue API keys: pure, so every layer applies the same rule.
import { WritableCredentialError } from './errors.js';
import type { VenuePermissions, VenueRight } from './types.js';

export type PermissionVerdict =
  | {
    readonly ok: true;
    readonly checked: boolean;
    /** Trading rights the account holder accepted through the opt-in (absent when none). */
    readonly acceptedTradingRights?: readonly VenueRight[];
  }
  | { readonly ok: false; readonly reason: string; readonly refused: readonly VenueRight[] };

export interface PermissionPolicyOptions {
  /**
   * The account holder's explicit, per-account opt-in to a key that can trade. Only for venues
   * that issue no read-only keys (`alwaysTrades`, i.e. Alpaca): elsewhere a read-only key exists
   * and is required. It never accepts withdrawal, transfer or unrecognized rights.
   */
  readonly acceptTradingRights?: boolean;
}

const TRADE_RIGHTS: readonly VenueRight[] = ['spot_trade', 'margin_trade', 'futures_trade', 'options_trade'];
const MOVE_RIGHTS: readonly VenueRight[] = ['withdraw', 'internal_transfer', 'sub_account_transfer'];

/** Pure policy: only keys that can read and can do nothing else are accepted (see the opt-in). */
export function checkReadOnlyPermissions(permissions: VenuePermissions, options: PermissionPolicyOptions = {}): PermissionVerdict {
  if (!permissions.reported) return { ok: true, checked: false };
  const rights = new Set(permissions.rights);
  const trade = TRADE_RIGHTS.filter((right) => rights.has(right));
  const move = MOVE_RIGHTS.filter((right) => rights.has(right));
  const unrecognized = rights.has('unrecognized') ? (['unrecognized'] as const) : [];
  const tradingAccepted = options.acceptTradingRights === true && permissions.alwaysTrades === true;
  const refusedTrade = tradingAccepted ? [] : trade;
  const refused = [...refusedTrade, ...move, ...unrecognized];
  if (refused.length > 0) {
    const parts: string[] = [];
    if (refusedTrade.length > 0) parts.push(`trading rights (${refusedTrade.join(', ')})`);
    if (move.length > 0) parts.push(`withdrawal or transfer rights (${move.join(', ')})`);
    if (unrecognized.length > 0) parts.push('rights this service does not recognize');
    const remedy = permissions.alwaysTrades === true && move.length === 0 && unrecognized.length === 0
      ? 'this venue issues no read-only keys: register again with the explicit opt-in that accepts a trading-capable key for this account'
      : 'create a read-only key with trading, withdrawals and transfers disabled';
    return { ok: false, refused, reason: `the API key has ${parts.join(' and ')}; ${remedy}` };
  }
  if (!rights.has('read')) {
    return { ok: false, refused: [], reason: 'the API key cannot read account data; enable read access (and nothing else)' };
  }
  return tradingAccepted && trade.length > 0 ? { ok: true, checked: true, acceptedTradingRights: trade } : { ok: true, checked: true };
}

/** checkReadOnlyPermissions, throwing WritableCredentialError with the verdict's reason. */
export function assertReadOnlyPermissions(permissions: VenuePermissions, options: PermissionPolicyOptions = {}): void {
  const verdict = checkReadOnlyPermissions(permissions, options);
  if (!verdict.ok) throw new WritableCredentialError(verdict.reason);
}
