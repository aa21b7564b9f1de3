// The read-only policy for venue API keys: pure, so every layer applies the same rule.
import { WritableCredentialError } from './errors.js';
import type { VenuePermissions, VenueRight } from './types.js';

export type PermissionVerdict =
  | { readonly ok: true; readonly checked: boolean }
  | { readonly ok: false; readonly reason: string; readonly refused: readonly VenueRight[] };

const TRADE_RIGHTS: readonly VenueRight[] = ['spot_trade', 'margin_trade', 'futures_trade', 'options_trade'];
const MOVE_RIGHTS: readonly VenueRight[] = ['withdraw', 'internal_transfer', 'sub_account_transfer'];

/** Pure policy: only keys that can read and can do nothing else are accepted. */
export function checkReadOnlyPermissions(permissions: VenuePermissions): PermissionVerdict {
  if (!permissions.reported) return { ok: true, checked: false };
  const rights = new Set(permissions.rights);
  const trade = TRADE_RIGHTS.filter((right) => rights.has(right));
  const move = MOVE_RIGHTS.filter((right) => rights.has(right));
  const refused = [...trade, ...move];
  if (refused.length > 0) {
    const parts: string[] = [];
    if (trade.length > 0) parts.push(`trading rights (${trade.join(', ')})`);
    if (move.length > 0) parts.push(`withdrawal or transfer rights (${move.join(', ')})`);
    return {
      ok: false,
      refused,
      reason: `the API key has ${parts.join(' and ')}; create a read-only key with trading, withdrawals and transfers disabled`,
    };
  }
  if (!rights.has('read')) {
    return { ok: false, refused: [], reason: 'the API key cannot read account data; enable read access (and nothing else)' };
  }
  return { ok: true, checked: true };
}

/** checkReadOnlyPermissions, throwing WritableCredentialError with the verdict's reason. */
export function assertReadOnlyPermissions(permissions: VenuePermissions): void {
  const verdict = checkReadOnlyPermissions(permissions);
  if (!verdict.ok) throw new WritableCredentialError(verdict.reason);
}
