// Bybit account activity outside the execution list and on-chain deposit/withdrawal records (issue
// 16, items 2 and 3), read through ccxt's implicit raw methods (ccxt has no unified method for
// either; its fetchLedger reads the transaction log but maps INTEREST rows to a generic type and
// pages it its own way):
//
// | stream           | endpoint (ccxt method)                                                        | becomes          |
// |------------------|-------------------------------------------------------------------------------|------------------|
// | internal-deposit | /v5/asset/deposit/query-internal-record (privateGetV5AssetDepositQueryInternalRecord) | deposit |
// | margin-interest  | /v5/account/transaction-log, type INTEREST (privateGetV5AccountTransactionLog)  | expense          |
//
// Internal deposits come from another Bybit user (email, phone or UID transfer): money from outside
// this account, an external flow like an on-chain deposit. Borrow interest of the unified account's
// spot margin is booked by Bybit as transaction-log rows of type INTEREST in the borrowed coin
// (`change` negative): an expense, performance. Only type INTEREST is asked for, so the other rows
// (settlements, funding: the derivatives streams) are not read twice here.
import { z } from 'zod';
import type { bybit } from 'ccxt';
import { isNegativeDecimal, isZeroDecimal, absDecimal, normalizeDecimal } from '../../domain/decimal-string.js';
import type { CashFlow, EpochMs, Fill } from '../../domain/types.js';
import { VenueError } from '../errors.js';
import type { ExtraRecord, ExtraStream, ExtrasCall, VenueExtras } from './extra-streams.js';

const DAY_MS = 86_400_000;
const decimal = z.string().regex(/^-?\d+(\.\d+)?$/u);
const integer = z.union([z.number().int(), z.string().regex(/^\d+$/u).transform(Number)]);

/** Docs: https://bybit-exchange.github.io/docs/v5/asset/deposit/internal-deposit-record (createdTime in seconds; status 1 processing, 2 success, 3 failed). */
const internalBody = z.object({
  result: z.object({
    rows: z.array(z.object({ id: z.union([z.string(), z.number()]).transform(String), amount: decimal, coin: z.string(), status: integer, createdTime: integer })),
    nextPageCursor: z.string().optional().default(''),
  }),
});
/** Docs: https://bybit-exchange.github.io/docs/v5/account/transaction-log */
const logBody = z.object({
  result: z.object({
    list: z.array(z.object({ id: z.string(), type: z.string(), currency: z.string(), change: decimal, transactionTime: integer })),
    nextPageCursor: z.string().optional().default(''),
  }),
});

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  if (!result.success) throw new VenueError('bybit', 'bad-response', { errorClass: `Malformed${what}` });
  return result.data;
}

export class BybitExtras implements VenueExtras {
  readonly fillStreams: readonly ExtraStream<Fill>[] = [];
  readonly cashFlowStreams: readonly ExtraStream<CashFlow>[];

  constructor(private readonly client: bybit, private readonly call: ExtrasCall) {
    this.cashFlowStreams = [
      // The endpoint allows 30 days per query.
      { key: 'internal-deposit', firstMs: Date.UTC(2021, 0, 1), windowMs: 30 * DAY_MS, afterFirstActivity: false, fetch: async (from, to) => await this.internalDeposits(from, to) },
      // The transaction log allows 7 days per query and serves two years.
      { key: 'margin-interest', firstMs: Date.UTC(2022, 0, 1), windowMs: 7 * DAY_MS, afterFirstActivity: true, fetch: async (from, to) => await this.interest(from, to) },
    ];
  }

  private async internalDeposits(from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    const out: ExtraRecord<CashFlow>[] = [];
    let cursor = '';
    for (;;) {
      const body = parse(internalBody, await this.call('internalDeposits', async () =>
        await this.client.privateGetV5AssetDepositQueryInternalRecord({ startTime: from, endTime: to, limit: 50, ...(cursor === '' ? {} : { cursor }) })), 'InternalDeposit');
      for (const r of body.result.rows) {
        const id = `internal-deposit:${r.id}`;
        const time = r.createdTime * 1000;
        out.push({ id, time, settled: r.status !== 1, value: r.status === 2 && !isZeroDecimal(r.amount) ? { exchangeFlowId: id, kind: 'deposit', asset: r.coin, amount: normalizeDecimal(r.amount), occurredAt: time } : null });
      }
      cursor = body.result.nextPageCursor;
      if (cursor === '' || body.result.rows.length < 50) return out;
    }
  }

  private async interest(from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    const out: ExtraRecord<CashFlow>[] = [];
    let cursor = '';
    for (;;) {
      const body = parse(logBody, await this.call('transactionLog', async () =>
        await this.client.privateGetV5AccountTransactionLog({ accountType: 'UNIFIED', type: 'INTEREST', startTime: from, endTime: to, limit: 50, ...(cursor === '' ? {} : { cursor }) })), 'TransactionLog');
      for (const r of body.result.list) {
        if (r.type !== 'INTEREST') continue;
        const id = `interest:${r.id}`;
        out.push({ id, time: r.transactionTime, settled: true, value: isZeroDecimal(r.change) ? null : {
          exchangeFlowId: id, kind: isNegativeDecimal(r.change) ? 'expense' : 'income', asset: r.currency, amount: absDecimal(r.change), occurredAt: r.transactionTime,
        } });
      }
      cursor = body.result.nextPageCursor;
      if (cursor === '' || body.result.list.length < 50) return out;
    }
  }
}
