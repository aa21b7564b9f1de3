// Stored exchange connections (sealed credentials). Used by the connect flow and by key rotation;
// account actors read theirs through AccountStore.loadConnection.
import { z } from 'zod';
import type { DatabasePool } from 'slonik';
import { accountId, EXCHANGES, PARKED_REASONS, type AccountKey, type ParkedReason } from '../domain/types.js';
import { DISCLOSURE_LEVELS, type DisclosureLevel } from '../domain/disclosure.js';
import { envelopeKeyId } from '../crypto/envelope.js';
import type { EnvelopeStore, StoredEnvelope } from '../crypto/rotate.js';
import type { ConnectionStatus } from '../domain/types.js';
import { toStorageError } from './errors.js';
import { noRows, sql } from './pool.js';

const statusSchema = z.enum(['active', 'failed', 'disabled']);
const exchangeSchema = z.enum(EXCHANGES);

const summaryRow = z.object({
  userUid: z.string(),
  exchange: exchangeSchema,
  status: statusSchema,
  parkedReason: z.enum(PARKED_REASONS).nullable(),
  keyId: z.number().int(),
  updatedAt: z.number(),
  disclosureLevel: z.enum(DISCLOSURE_LEVELS),
});
export type ConnectionSummary = Readonly<{ account: AccountKey; status: ConnectionStatus; parkedReason: ParkedReason | null; keyId: number; updatedAt: number; disclosureLevel: DisclosureLevel }>;

const generationRow = z.object({ generation: z.number().int() });
const envelopeRow = z.object({ userUid: z.string(), exchange: exchangeSchema, envelope: z.instanceof(Buffer) });

export interface ConnectionRepository extends EnvelopeStore {
  /**
   * Inserts or replaces the account's envelope; the status becomes `status` (default active) and
   * the trading-key opt-in `acceptTradingKeyRisk` (default false). Returns the new generation.
   */
  saveConnection(account: AccountKey, envelope: Buffer, status?: ConnectionStatus, acceptTradingKeyRisk?: boolean): Promise<number>;
  /** Every connection without its envelope, ordered by user then exchange. */
  listConnections(): Promise<ConnectionSummary[]>;
  /** Removes the account's connection; false when there was none. */
  removeConnection(account: AccountKey): Promise<boolean>;
  /**
   * Deletes everything private of the account in one transaction: its envelope, fills, cash
   * flows, sync cursors and engine state, and its published aggregates (hourly returns, snapshots,
   * performance stats) unless `keepAggregates`.
   * Returns whether a connection was stored. Shared market data (price_candles) stays.
   */
  removeAccount(account: AccountKey, options: { readonly keepAggregates: boolean }): Promise<boolean>;
}

/** What a removal always deletes: the account's private rows, plaintext (legacy layout) and sealed (009). */
const PRIVATE_TABLES = ['trades', 'cash_flows', 'sync_cursors', 'engine_states', 'sealed_pages', 'sealed_index', 'sealed_records'] as const;
/**
 * What it deletes unless the aggregates are kept: the published rows, the exact figures behind them
 * (disclosure levels) and the statement chain.
 */
const PUBLISHED_TABLES = [
  // hour_flag_counts after hourly_returns: deleting the hours moves the counts (sql/017), then they go.
  'hourly_returns', 'hour_flag_counts', 'balance_snapshots', 'performance_stats', 'derivative_hours', 'derivative_stats',
  'hourly_amounts', 'snapshot_amounts', 'statement_checkpoints', 'account_reconciliations',
] as const;

export function createConnectionRepository(pool: DatabasePool, pageSize = 500): ConnectionRepository {
  return {
    async saveConnection(account, envelope, status = 'active', acceptTradingKeyRisk = false) {
      try {
        return await pool.oneFirst(sql.type(generationRow)`
          INSERT INTO exchange_connections (user_uid, exchange, envelope, key_id, status, accept_trading_key_risk)
          VALUES (${account.userUid}, ${account.exchange}, ${sql.binary(envelope)}, ${envelopeKeyId(envelope)}, ${status}, ${acceptTradingKeyRisk})
          ON CONFLICT (user_uid, exchange) DO UPDATE
            SET envelope = excluded.envelope, key_id = excluded.key_id, status = excluded.status, parked_reason = NULL,
                accept_trading_key_risk = excluded.accept_trading_key_risk,
                generation = nextval('connection_generation_seq'), updated_at = now()
          RETURNING generation`);
      } catch (error) {
        throw toStorageError(error, `save connection ${accountId(account)}`);
      }
    },

    async listConnections() {
      try {
        const rows = await pool.any(sql.type(summaryRow)`
          SELECT user_uid AS "userUid", exchange, status, parked_reason AS "parkedReason", key_id AS "keyId", updated_at AS "updatedAt",
                 disclosure_level AS "disclosureLevel"
          FROM exchange_connections ORDER BY user_uid, exchange`);
        return rows.map((r) => ({ account: { userUid: r.userUid, exchange: r.exchange }, status: r.status, parkedReason: r.parkedReason, keyId: r.keyId, updatedAt: r.updatedAt, disclosureLevel: r.disclosureLevel }));
      } catch (error) {
        throw toStorageError(error, 'list connections');
      }
    },

    async removeConnection(account) {
      try {
        const result = await pool.query(sql.type(noRows)`
          DELETE FROM exchange_connections WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange}`);
        return result.rowCount > 0;
      } catch (error) {
        throw toStorageError(error, `remove connection ${accountId(account)}`);
      }
    },

    async removeAccount(account, { keepAggregates }) {
      const { userUid, exchange } = account;
      try {
        return await pool.transaction(async (tx) => {
          const removed = await tx.query(sql.type(noRows)`
            DELETE FROM exchange_connections WHERE user_uid = ${userUid} AND exchange = ${exchange}`);
          const tables = keepAggregates ? PRIVATE_TABLES : [...PRIVATE_TABLES, ...PUBLISHED_TABLES];
          for (const table of tables) {
            // The sealed amounts record (sql/016) goes with the exact amounts it commits to: kept with the aggregates.
            const keep = keepAggregates && table === 'sealed_records' ? sql.fragment`AND kind <> 'amounts'` : sql.fragment``;
            await tx.query(sql.type(noRows)`DELETE FROM ${sql.identifier([table])} WHERE user_uid = ${userUid} AND exchange = ${exchange} ${keep}`);
          }
          return removed.rowCount > 0;
        });
      } catch (error) {
        throw toStorageError(error, `remove account ${accountId(account)}`);
      }
    },

    // Keyset pages, so a long rotation never holds one huge result or a long transaction.
    async *iterateEnvelopes(): AsyncIterable<StoredEnvelope> {
      let after: { userUid: string; exchange: string } | null = null;
      for (;;) {
        let rows: readonly z.infer<typeof envelopeRow>[];
        try {
          const position = after === null ? sql.fragment`TRUE` : sql.fragment`(user_uid, exchange) > (${after.userUid}, ${after.exchange})`;
          rows = await pool.any(sql.type(envelopeRow)`
            SELECT user_uid AS "userUid", exchange, envelope FROM exchange_connections
            WHERE ${position} ORDER BY user_uid, exchange LIMIT ${pageSize}`);
        } catch (error) {
          throw toStorageError(error, 'read envelopes');
        }
        for (const row of rows) yield { account: { userUid: row.userUid, exchange: row.exchange }, envelope: row.envelope };
        const last = rows.at(-1);
        if (last === undefined || rows.length < pageSize) return;
        after = { userUid: last.userUid, exchange: last.exchange };
      }
    },

    async replaceEnvelope(account, expected, next) {
      try {
        const result = await pool.query(sql.type(noRows)`
          UPDATE exchange_connections
          SET envelope = ${sql.binary(next)}, key_id = ${envelopeKeyId(next)}, updated_at = now()
          WHERE user_uid = ${account.userUid} AND exchange = ${account.exchange} AND envelope = ${sql.binary(expected)}`);
        return result.rowCount === 1;
      } catch (error) {
        throw toStorageError(error, `replace envelope ${accountId(account)}`);
      }
    },
  };
}
