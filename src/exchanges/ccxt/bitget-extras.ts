// Bitget margin borrow interest (issue 16, item 4), read through ccxt's implicit raw methods (its
// unified fetchBorrowInterest fixes its own window, 90 days back from now, and needs a symbol per
// isolated pair):
//
// | stream                   | endpoint (ccxt method)                                                              | becomes |
// |--------------------------|-------------------------------------------------------------------------------------|---------|
// | margin-interest-crossed  | GET /api/v2/margin/crossed/interest-history (privateMarginGetV2MarginCrossedInterestHistory)   | expense |
// | margin-interest-isolated | GET /api/v2/margin/isolated/interest-history (privateMarginGetV2MarginIsolatedInterestHistory) | expense |
//
// Interest is charged in `interestCoin` (the borrowed coin): an expense, performance. The isolated
// endpoint answers for every isolated pair when no `symbol` is sent (Bitget's docs list `symbol` as
// optional there, unlike ccxt's unified method). Pages of at most 100, newest first, walked back with
// `idLessThan` = the page's `minId`, as Bitget's other v2 record endpoints.
import { z } from 'zod';
import type { bitget } from 'ccxt';
import { isZeroDecimal, normalizeDecimal } from '../../domain/decimal-string.js';
import type { CashFlow, EpochMs, Fill } from '../../domain/types.js';
import { VenueError } from '../errors.js';
import type { ExtraRecord, ExtraStream, ExtrasCall, VenueExtras } from './extra-streams.js';

const DAY_MS = 86_400_000;
const PAGE = 100;
const decimal = z.string().regex(/^-?\d+(\.\d+)?$/u);
const millis = z.union([z.number().int(), z.string().regex(/^\d+$/u).transform(Number)]);

/**
 * Docs: https://www.bitget.com/api-doc/margin/cross/record/Get-Cross-Interest-Records and
 * https://www.bitget.com/api-doc/margin/isolated/record/Get-Isolated-Interest-Records; the same
 * response examples are quoted in ccxt's bitget.js (fetchBorrowInterest). `interstType` is Bitget's
 * spelling ("first" on borrowing, "scheduled" hourly).
 */
const interestBody = z.object({
  data: z.object({
    resultList: z.array(z.object({ interestId: z.string(), interestCoin: z.string(), interestAmount: decimal, cTime: millis, symbol: z.string().optional() })).nullable().transform((x) => x ?? []),
    minId: z.string().nullable().optional(),
  }),
});

export class BitgetExtras implements VenueExtras {
  readonly fillStreams: readonly ExtraStream<Fill>[] = [];
  readonly cashFlowStreams: readonly ExtraStream<CashFlow>[];

  constructor(private readonly client: bitget, private readonly call: ExtrasCall) {
    // Margin v2 records start in 2023 (the v2 API); 30-day windows stay inside every documented limit.
    this.cashFlowStreams = (['crossed', 'isolated'] as const).map((mode) => ({
      key: `margin-interest-${mode}`, firstMs: Date.UTC(2023, 0, 1), windowMs: 30 * DAY_MS, afterFirstActivity: true,
      fetch: async (from: EpochMs, to: EpochMs) => await this.interest(mode, from, to),
    }));
  }

  private async interest(mode: 'crossed' | 'isolated', from: EpochMs, to: EpochMs): Promise<ExtraRecord<CashFlow>[]> {
    const out: ExtraRecord<CashFlow>[] = [];
    let below: string | undefined;
    for (;;) {
      const params = { startTime: String(from), endTime: String(to), limit: String(PAGE), ...(below === undefined ? {} : { idLessThan: below }) };
      const raw = await this.call(`${mode}InterestHistory`, async () => (mode === 'crossed'
        ? await this.client.privateMarginGetV2MarginCrossedInterestHistory(params)
        : await this.client.privateMarginGetV2MarginIsolatedInterestHistory(params)));
      const parsed = interestBody.safeParse(raw);
      if (!parsed.success) throw new VenueError('bitget', 'bad-response', { errorClass: 'MalformedMarginInterest' });
      const rows = parsed.data.data.resultList;
      for (const r of rows) {
        const id = `interest:${mode}:${r.interestId}`;
        out.push({ id, time: r.cTime, settled: true, value: isZeroDecimal(r.interestAmount) ? null : {
          exchangeFlowId: id, kind: 'expense', asset: r.interestCoin, amount: normalizeDecimal(r.interestAmount.replace(/^-/u, '')), occurredAt: r.cTime,
        } });
      }
      const next = parsed.data.data.minId ?? undefined;
      if (rows.length < PAGE || next === undefined || next === below) return out;
      below = next;
    }
  }
}
