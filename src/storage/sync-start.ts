// What an account actor loads when it starts (issue 19): the connection, both sync cursors and the
// engine state, in one statement instead of four (an hourly sync starts a cold actor each time).
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { PARKED_REASONS, type AccountKey, type SyncCursor } from '../domain/types.js';
import type { StoredConnection } from './account-store.js';
import { sql } from './pool.js';

/** The connection (null when none is stored) and, beside it, where its sync stands. */
export interface SyncStart {
  readonly connection: StoredConnection | null;
  readonly fillsCursor: SyncCursor | null;
  readonly cashFlowsCursor: SyncCursor | null;
  readonly engineState: unknown;
}

const syncStartRow = z.object({
  envelope: z.instanceof(Buffer),
  status: z.enum(['active', 'failed', 'disabled']),
  generation: z.number().int(),
  parkedReason: z.enum(PARKED_REASONS).nullable(),
  acceptTradingKeyRisk: z.boolean(),
  fillsCursor: z.string().nullable(),
  cashFlowsCursor: z.string().nullable(),
  engineState: z.unknown(),
});

export async function loadSyncStart(pool: DatabasePool, key: AccountKey): Promise<SyncStart> {
  const row = await pool.maybeOne(sql.type(syncStartRow)`
    SELECT c.envelope, c.status, c.generation, c.parked_reason AS "parkedReason", c.accept_trading_key_risk AS "acceptTradingKeyRisk",
      (SELECT s.cursor FROM sync_cursors s WHERE s.user_uid = c.user_uid AND s.exchange = c.exchange AND s.stream = 'fills') AS "fillsCursor",
      (SELECT s.cursor FROM sync_cursors s WHERE s.user_uid = c.user_uid AND s.exchange = c.exchange AND s.stream = 'cash_flows') AS "cashFlowsCursor",
      (SELECT e.state FROM engine_states e WHERE e.user_uid = c.user_uid AND e.exchange = c.exchange) AS "engineState"
    FROM exchange_connections c WHERE c.user_uid = ${key.userUid} AND c.exchange = ${key.exchange}`);
  if (row === null) return { connection: null, fillsCursor: null, cashFlowsCursor: null, engineState: null };
  return {
    connection: { account: key, envelope: row.envelope, status: row.status, generation: row.generation, parkedReason: row.parkedReason, acceptTradingKeyRisk: row.acceptTradingKeyRisk },
    fillsCursor: row.fillsCursor, cashFlowsCursor: row.cashFlowsCursor, engineState: row.engineState ?? null,
  };
}
