// Parsing of IBKR Flex Web Service v3 XML: the SendRequest/GetStatement envelopes
// (FlexStatementResponse) and a statement (FlexQueryResponse) into normalized records in the
// account's base currency (every amount times its row's `fxRateToBase`).
import { createHash } from 'node:crypto';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { Balance, CashFlow, Fill } from '../../domain/types.js';
import { absDecimal, addDecimal, isNegativeDecimal, isZeroDecimal, multiplyDecimal } from '../../domain/decimal-string.js';
import { MalformedVenueResponse } from '../errors.js';
import { decimalOf, isRecord } from '../broker-common.js';

/** SendRequest / GetStatement status envelope. */
export type FlexEnvelope =
  | { readonly kind: 'reference'; readonly referenceCode: string }
  | { readonly kind: 'error'; readonly status: string; readonly code: number }
  | { readonly kind: 'statement'; readonly xml: unknown };

const ARRAY_TAGS = new Set(['FlexStatement', 'Trade', 'CashTransaction', 'OpenPosition', 'CashReportCurrency', 'EquitySummaryByReportDateInBase', 'PriorPeriodPosition', 'Transfer', 'CorporateAction']);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  isArray: (name) => ARRAY_TAGS.has(name),
});

/** Parses either envelope; a body that is not well-formed XML is a MalformedVenueResponse. */
export function parseFlexEnvelope(text: string): FlexEnvelope {
  // The validator's message quotes the document, so only its verdict is used.
  if (text.trim() === '' || XMLValidator.validate(text) !== true) throw new MalformedVenueResponse('Flex XML');
  const doc: unknown = parser.parse(text);
  if (!isRecord(doc)) throw new MalformedVenueResponse('Flex XML');
  if (isRecord(doc.FlexQueryResponse)) return { kind: 'statement', xml: doc.FlexQueryResponse };
  const response = doc.FlexStatementResponse;
  if (!isRecord(response)) throw new MalformedVenueResponse('Flex envelope');
  const status = typeof response.Status === 'string' ? response.Status : '';
  if (status === 'Success' && typeof response.ReferenceCode === 'string' && response.ReferenceCode !== '') {
    return { kind: 'reference', referenceCode: response.ReferenceCode.trim() };
  }
  const code = Number(response.ErrorCode);
  if (!Number.isInteger(code)) throw new MalformedVenueResponse('Flex envelope');
  return { kind: 'error', status, code };
}

export interface FlexPricePoint {
  readonly at: number;
  /** Price per unit in the base currency. */
  readonly price: string;
  /** Traded quantity (0 for a mark). */
  readonly quantity: string;
}

/** One downloaded statement, normalized. */
export interface FlexStatement {
  /** From AccountInformation; a statement whose accounts disagree is refused (FlexBaseCurrencyError). */
  readonly baseCurrency: string | undefined;
  /**
   * When each record was reported (by exchangeTradeId / exchangeFlowId): the end of its
   * reportDate when later than its own time (a cancellation reported days after the trade), else
   * its time. Cursors advance on this, so a late row is never skipped.
   */
  readonly reportedAt: ReadonlyMap<string, number>;
  readonly generatedAt: number | undefined;
  /** The statement period's first day (FlexStatement fromDate): nothing earlier is in it. */
  readonly fromDate: number | undefined;
  readonly fills: readonly Fill[];
  readonly cashFlows: readonly CashFlow[];
  /** Base-currency cash, when the statement has a cash report or equity summary. */
  readonly cash: string | undefined;
  readonly positions: readonly Balance[];
  /** Per base asset: executions and marks, oldest first (for derived hourly candles). */
  readonly prices: ReadonlyMap<string, readonly FlexPricePoint[]>;
}

const DATE_TIME = /^(\d{4})-?(\d{2})-?(\d{2})(?:[;,T ]+(\d{2}):?(\d{2})(?::?(\d{2}))?)?/u;

const formatters = new Map<string, Intl.DateTimeFormat>();

const offsets = new Map<string, number>();

/** Zone offsets change on whole quarter hours at most: one lookup per zone and quarter hour. */
function zoneOffsetMs(utcMs: number, timeZone: string): number {
  const key = `${timeZone}|${Math.floor(utcMs / 900_000)}`;
  let offset = offsets.get(key);
  if (offset === undefined) {
    if (offsets.size > 100_000) offsets.clear();
    offset = computeZoneOffsetMs(Math.floor(utcMs / 900_000) * 900_000, timeZone);
    offsets.set(key, offset);
  }
  return offset;
}

function computeZoneOffsetMs(utcMs: number, timeZone: string): number {
  // Building a DateTimeFormat costs far more than using one: one per zone.
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, format);
  }
  const parts = format.formatToParts(new Date(utcMs));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value);
  return Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second')) - utcMs;
}

/**
 * Flex date-times ("20250102;093015", "2025-01-02;09:30:15", "20250102") are wall-clock times in
 * the statement's zone (US/Eastern unless the query says otherwise).
 */
export function parseFlexDateTime(value: unknown, timeZone: string, defaultTime: readonly [number, number, number] = [0, 0, 0]): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = DATE_TIME.exec(value.trim());
  if (m === null) return undefined;
  const [h, mi, s] = m[4] === undefined ? defaultTime : [Number(m[4]), Number(m[5]), Number(m[6] ?? '0')];
  const wall = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), h, mi, s);
  if (Number.isNaN(wall)) return undefined;
  // Two passes settle the offset across a daylight-saving change.
  const first = wall - zoneOffsetMs(wall, timeZone);
  return wall - zoneOffsetMs(first, timeZone);
}

/** The statement's accounts report different base currencies: no single base to value in. */
export class FlexBaseCurrencyError extends MalformedVenueResponse {
  constructor() {
    super('Flex statement accounts have different base currencies');
  }
}

/**
 * A deterministic id for a row the venue sent without one: a hash of the row's attributes (sorted)
 * and its occurrence among identical rows in the statement. The same row gets the same id in
 * every later statement, so it is stored once.
 */
export function syntheticId(kind: string, row: Record<string, unknown>, occurrences: Map<string, number>): string {
  const content = Object.keys(row).sort().map((k) => `${k}=${typeof row[k] === 'string' ? row[k] : ''}`).join('\u0000');
  const digest = createHash('sha256').update(`${kind}\u0000${content}`).digest('hex').slice(0, 24);
  const n = occurrences.get(digest) ?? 0;
  occurrences.set(digest, n + 1);
  return `syn:${kind}:${digest}:${n}`;
}

/** Trade notes codes (semicolon separated): Ca = cancelled. */
function hasNote(row: Record<string, unknown>, code: string): boolean {
  const notes = typeof row.notes === 'string' ? row.notes : '';
  return notes.split(/[;,]/u).some((c) => c.trim() === code);
}

/** Cash transaction types that are transfers in or out; every other type is income or expense. */
const TRANSFER_TYPE = /^Deposits?\s*(\/|&|and)\s*Withdrawals?$/iu;
/** Corporate action types that are splits (forward, reverse): quantity changes, value does not. */
const SPLIT_TYPES = new Set(['FS', 'RS']);

function attr(row: Record<string, unknown>, key: string): string | undefined {
  const value = row[key];
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function decimalAttr(row: Record<string, unknown>, key: string): string {
  const value = decimalOf(attr(row, key));
  if (value === undefined) throw new MalformedVenueResponse(`Flex attribute ${key}`);
  return value;
}

function rows(section: unknown, tag: string): Record<string, unknown>[] {
  if (!isRecord(section)) return [];
  const list = section[tag];
  return Array.isArray(list) ? list.filter(isRecord) : [];
}

/** A section whose child tag is its own name (OptionEAE): not in ARRAY_TAGS, so one row comes as an object. */
function nestedRows(section: unknown, tag: string): Record<string, unknown>[] {
  if (!isRecord(section)) return [];
  const list = section[tag];
  return Array.isArray(list) ? list.filter(isRecord) : isRecord(list) ? [list] : [];
}

/** Trades notes of an exercise (Ex), assignment (A) or expiration (Ep): booked at the strike or at 0, not a market price. */
function isOptionEvent(row: Record<string, unknown>): boolean {
  return hasNote(row, 'A') || hasNote(row, 'Ex') || hasNote(row, 'Ep');
}

/** Trade date (yyyymmdd) of a Trades or OptionEAE row, for matching the two sections. */
function dayOf(row: Record<string, unknown>): string {
  return (attr(row, 'dateTime') ?? attr(row, 'tradeDate') ?? attr(row, 'date') ?? '').replace(/-/gu, '').slice(0, 8);
}

function fxOf(row: Record<string, unknown>): string {
  return decimalOf(attr(row, 'fxRateToBase') ?? '1') ?? '1';
}

function multiplierOf(row: Record<string, unknown>): string {
  const m = decimalOf(attr(row, 'multiplier') ?? '1');
  return m === undefined || isZeroDecimal(m) ? '1' : m;
}

/** FX pairs ("EUR.USD") trade their first currency; everything else trades the symbol. */
function baseAssetOf(row: Record<string, unknown>): string {
  const symbol = attr(row, 'symbol');
  if (symbol === undefined) throw new MalformedVenueResponse('Flex attribute symbol');
  if (attr(row, 'assetCategory') === 'CASH' && symbol.includes('.')) return symbol.split('.')[0] ?? symbol;
  return symbol;
}

const DETAIL_ROW = (row: Record<string, unknown>, wanted: string): boolean => {
  const level = attr(row, 'levelOfDetail');
  return level === undefined || level === wanted;
};

export interface FlexParseOptions {
  /** The account's base currency, used when the statement has no AccountInformation. */
  readonly baseCurrency: string;
  readonly timeZone: string;
}

export function parseFlexStatement(xml: unknown, options: FlexParseOptions): FlexStatement {
  if (!isRecord(xml)) throw new MalformedVenueResponse('FlexQueryResponse');
  const statements = rows(xml.FlexStatements, 'FlexStatement');
  if (statements.length === 0) throw new MalformedVenueResponse('FlexStatements');
  let baseCurrency: string | undefined;
  let generatedAt: number | undefined;
  let fromDate: number | undefined;
  const fills: Fill[] = [];
  const cashFlows: CashFlow[] = [];
  const positions: Balance[] = [];
  const prices = new Map<string, FlexPricePoint[]>();
  const reportedAt = new Map<string, number>();
  const occurrences = new Map<string, number>();
  let cash: string | undefined;
  /** A trade known only by its date is put at the close (16:00 in the statement's zone), where its marks are too. */
  const CLOSE: readonly [number, number, number] = [16, 0, 0];
  const report = (id: string, at: number, row: Record<string, unknown>): void => {
    const reported = parseFlexDateTime(attr(row, 'reportDate'), options.timeZone, [23, 59, 59]);
    reportedAt.set(id, reported !== undefined && reported > at ? reported : at);
  };
  const addPrice = (asset: string, point: FlexPricePoint) => {
    const list = prices.get(asset) ?? [];
    list.push(point);
    prices.set(asset, list);
  };

  for (const statement of statements) {
    const info = statement.AccountInformation;
    const currency = isRecord(info) ? attr(info, 'currency') : undefined;
    if (currency !== undefined) {
      if (baseCurrency !== undefined && baseCurrency !== currency) throw new FlexBaseCurrencyError();
      baseCurrency = currency;
    }
    generatedAt = parseFlexDateTime(attr(statement, 'whenGenerated'), options.timeZone) ?? generatedAt;
    const from = parseFlexDateTime(attr(statement, 'fromDate'), options.timeZone);
    if (from !== undefined) fromDate = fromDate === undefined ? from : Math.min(fromDate, from);
    const base = baseCurrency ?? options.baseCurrency;

    const trades = rows(statement.Trades, 'Trade').filter((trade) => DETAIL_ROW(trade, 'EXECUTION'));
    const cancelled = new Set(trades.filter((trade) => hasNote(trade, 'Ca')).map((trade) => attr(trade, 'tradeID')).filter((id) => id !== undefined));
    for (const trade of trades) {
      const venueId = attr(trade, 'tradeID') ?? attr(trade, 'ibExecID') ?? attr(trade, 'transactionID');
      // Corrections replace: a cancellation is its own reversing record; a re-booking that reuses the
      // cancelled trade's id (another price, time or quantity) is a new record beside the original.
      let id = venueId ?? syntheticId('trade', trade, occurrences);
      if (venueId !== undefined && cancelled.has(venueId)) {
        if (hasNote(trade, 'Ca')) id = `${venueId}:cancel`;
        else if (trades.some((c) => hasNote(c, 'Ca') && attr(c, 'tradeID') === venueId && attr(c, 'tradePrice') === attr(trade, 'tradePrice') && absDecimal(decimalOf(attr(c, 'quantity')) ?? '0') === absDecimal(decimalOf(attr(trade, 'quantity')) ?? '1') && attr(c, 'dateTime') === attr(trade, 'dateTime'))) id = venueId;
        else id = `${venueId}:rebook:${syntheticId('trade', trade, new Map()).split(':')[2] ?? ''}`;
      }
      const executedAt = parseFlexDateTime(attr(trade, 'dateTime') ?? attr(trade, 'tradeDate'), options.timeZone, CLOSE);
      if (executedAt === undefined) throw new MalformedVenueResponse('Flex trade dateTime');
      const quantity = decimalAttr(trade, 'quantity');
      const buySell = attr(trade, 'buySell') ?? '';
      const side = isZeroDecimal(quantity) ? (buySell.startsWith('SELL') ? 'sell' : 'buy') : isNegativeDecimal(quantity) ? 'sell' : 'buy';
      const fx = fxOf(trade);
      const currency = attr(trade, 'currency') ?? base;
      const commission = decimalOf(attr(trade, 'ibCommission') ?? '0') ?? '0';
      const commissionCurrency = attr(trade, 'ibCommissionCurrency') ?? currency;
      // Commission in the trade currency converts with the trade's rate; in any other currency it stays as is.
      const [fee, feeAsset] = commissionCurrency === currency ? [multiplyDecimal(absDecimal(commission), fx), base] : [absDecimal(commission), commissionCurrency];
      const baseAsset = baseAssetOf(trade);
      const units = multiplyDecimal(absDecimal(quantity), multiplierOf(trade));
      const price = multiplyDecimal(decimalAttr(trade, 'tradePrice'), fx);
      if (isZeroDecimal(units)) continue; // nothing moved (a zero-quantity summary or adjustment row)
      fills.push({ exchangeTradeId: id, symbol: `${baseAsset}/${base}`, baseAsset, quoteAsset: base, side, quantity: units, price, fee, feeAsset, executedAt });
      report(id, executedAt, trade);
      // An assignment or expiry at price 0, or the underlying delivered at the strike, is not a market price.
      if (!isZeroDecimal(price) && !isOptionEvent(trade)) addPrice(baseAsset, { at: executedAt, price, quantity: units });
    }

    // OptionEAE: exercises, assignments and expirations. The option leg (Assignment, Exercise,
    // Expiration) closes the contracts at tradePrice 0; the underlying leg (Buy, Sell) delivers the
    // shares at the strike. Effect: an assignment or exercise converts the option into stock at the
    // strike (the option's last value goes, the stock arrives at its mark: no return at consistent
    // marks beyond the option's own), an expiry closes it at 0 (its last value is a realized loss
    // or, short, the premium kept). IBKR books the same events in Trades (notes A, Ex, Ep) under
    // the same tradeID: a row Trades carries (same id, or the same symbol, day and quantity) is
    // skipped, else it becomes the fill the Trades row would have been, under that row's id, so a
    // later statement's Trades row is the same record (trades are unique per id), never a second.
    const tradeIds = new Set(trades.map((trade) => attr(trade, 'tradeID')).filter((id) => id !== undefined));
    const carried = (row: Record<string, unknown>): boolean => {
      const id = attr(row, 'tradeID');
      if (id !== undefined && tradeIds.has(id)) return true;
      const symbol = attr(row, 'symbol')?.replace(/\s+/gu, ' ');
      const quantity = absDecimal(decimalOf(attr(row, 'quantity')) ?? '0');
      return trades.some((trade) => attr(trade, 'symbol')?.replace(/\s+/gu, ' ') === symbol && dayOf(trade) === dayOf(row)
        && absDecimal(decimalOf(attr(trade, 'quantity')) ?? '0') === quantity && (isOptionEvent(trade) || isZeroDecimal(decimalOf(attr(trade, 'tradePrice')) ?? '0')));
    };
    for (const row of nestedRows(statement.OptionEAE, 'OptionEAE')) {
      if (carried(row)) continue;
      const quantity = decimalAttr(row, 'quantity');
      const units = multiplyDecimal(absDecimal(quantity), multiplierOf(row));
      if (isZeroDecimal(units)) continue;
      const id = attr(row, 'tradeID') ?? attr(row, 'transactionID') ?? syntheticId('eae', row, occurrences);
      const executedAt = parseFlexDateTime(attr(row, 'dateTime') ?? attr(row, 'date'), options.timeZone, CLOSE);
      if (executedAt === undefined) throw new MalformedVenueResponse('Flex OptionEAE date');
      const baseAsset = baseAssetOf(row);
      const fx = fxOf(row);
      // IBKR spells the column commisionsAndTax; negative is paid.
      const fee = multiplyDecimal(absDecimal(decimalOf(attr(row, 'commisionsAndTax') ?? attr(row, 'commissionsAndTax') ?? '0') ?? '0'), fx);
      const price = multiplyDecimal(decimalOf(attr(row, 'tradePrice') ?? '0') ?? '0', fx);
      fills.push({ exchangeTradeId: id, symbol: `${baseAsset}/${base}`, baseAsset, quoteAsset: base, side: isNegativeDecimal(quantity) ? 'sell' : 'buy', quantity: units, price, fee, feeAsset: base, executedAt });
      report(id, executedAt, row);
    }

    // Deposits and withdrawals are external flows; dividends, withholding tax, interest, fees and
    // their refunds are income or expense by sign (events.ts). SUMMARY rows repeat DETAIL ones.
    for (const row of rows(statement.CashTransactions, 'CashTransaction')) {
      const type = attr(row, 'type') ?? '';
      if (!DETAIL_ROW(row, 'DETAIL')) continue;
      const amount = decimalAttr(row, 'amount');
      if (isZeroDecimal(amount)) continue;
      const id = attr(row, 'transactionID') ?? syntheticId('cash', row, occurrences);
      const occurredAt = parseFlexDateTime(attr(row, 'dateTime') ?? attr(row, 'settleDate') ?? attr(row, 'reportDate'), options.timeZone, CLOSE);
      if (occurredAt === undefined) throw new MalformedVenueResponse('Flex cash transaction dateTime');
      const out = isNegativeDecimal(amount);
      const kind = TRANSFER_TYPE.test(type) ? (out ? 'withdrawal' : 'deposit') : out ? 'expense' : 'income';
      cashFlows.push({ exchangeFlowId: id, kind, asset: base, amount: multiplyDecimal(absDecimal(amount), fxOf(row)), occurredAt });
      report(id, occurredAt, row);
    }

    // Transfers (ACATS, internal, FOP): positions or cash moved in kind, external flows at the mark.
    for (const row of rows(statement.Transfers, 'Transfer')) {
      if (!DETAIL_ROW(row, 'DETAIL')) continue;
      const id = attr(row, 'transactionID') ?? syntheticId('transfer', row, occurrences);
      const occurredAt = parseFlexDateTime(attr(row, 'dateTime') ?? attr(row, 'date') ?? attr(row, 'reportDate'), options.timeZone, CLOSE);
      if (occurredAt === undefined) throw new MalformedVenueResponse('Flex transfer date');
      const isCash = attr(row, 'assetCategory') === 'CASH';
      const quantity = isCash ? multiplyDecimal(decimalOf(attr(row, 'cashTransfer') ?? attr(row, 'quantity')) ?? '0', fxOf(row)) : multiplyDecimal(decimalOf(attr(row, 'quantity')) ?? '0', multiplierOf(row));
      if (isZeroDecimal(quantity)) continue;
      const inward = attr(row, 'direction') === undefined ? !isNegativeDecimal(quantity) : attr(row, 'direction') === 'IN';
      cashFlows.push({ exchangeFlowId: id, kind: inward ? 'deposit' : 'withdrawal', asset: isCash ? base : baseAssetOf(row), amount: absDecimal(quantity), occurredAt });
      report(id, occurredAt, row);
    }

    // Corporate actions: splits change quantity only; anything else (mergers, spin-offs) moves the
    // old and new positions and any cash as expense/income at their marks (events.ts).
    for (const row of rows(statement.CorporateActions, 'CorporateAction')) {
      if (!DETAIL_ROW(row, 'DETAIL')) continue;
      const rowId = attr(row, 'transactionID') ?? syntheticId('corporate', row, occurrences);
      const occurredAt = parseFlexDateTime(attr(row, 'dateTime') ?? attr(row, 'reportDate'), options.timeZone, CLOSE);
      if (occurredAt === undefined) throw new MalformedVenueResponse('Flex corporate action date');
      const quantity = multiplyDecimal(decimalOf(attr(row, 'quantity')) ?? '0', multiplierOf(row));
      const split = SPLIT_TYPES.has(attr(row, 'type') ?? '');
      if (!isZeroDecimal(quantity)) {
        const out = isNegativeDecimal(quantity);
        const kind = split ? (out ? 'split-out' : 'split-in') : out ? 'expense' : 'income';
        cashFlows.push({ exchangeFlowId: `${rowId}:qty`, kind, asset: baseAssetOf(row), amount: absDecimal(quantity), occurredAt });
        report(`${rowId}:qty`, occurredAt, row);
      }
      const proceeds = decimalOf(attr(row, 'proceeds') ?? '0') ?? '0';
      if (!isZeroDecimal(proceeds)) {
        cashFlows.push({ exchangeFlowId: `${rowId}:cash`, kind: isNegativeDecimal(proceeds) ? 'expense' : 'income', asset: base, amount: multiplyDecimal(absDecimal(proceeds), fxOf(row)), occurredAt });
        report(`${rowId}:cash`, occurredAt, row);
      }
    }

    for (const row of rows(statement.OpenPositions, 'OpenPosition')) {
      if (!DETAIL_ROW(row, 'SUMMARY')) continue;
      const asset = baseAssetOf(row);
      const units = multiplyDecimal(decimalAttr(row, 'position'), multiplierOf(row));
      positions.push({ asset, total: units });
      const mark = decimalOf(attr(row, 'markPrice'));
      // A mark is the closing price of its report date (16:00 in the statement's zone).
      const at = parseFlexDateTime(attr(row, 'reportDate'), options.timeZone, [16, 0, 0]);
      if (mark !== undefined && at !== undefined) addPrice(asset, { at, price: multiplyDecimal(mark, fxOf(row)), quantity: '0' });
    }

    for (const row of rows(statement.PriorPeriodPositions, 'PriorPeriodPosition')) {
      const price = decimalOf(attr(row, 'price'));
      const at = parseFlexDateTime(attr(row, 'date'), options.timeZone, [16, 0, 0]);
      if (price !== undefined && at !== undefined && attr(row, 'symbol') !== undefined) addPrice(baseAssetOf(row), { at, price: multiplyDecimal(price, fxOf(row)), quantity: '0' });
    }

    const baseSummary = rows(statement.CashReport, 'CashReportCurrency').find((r) => attr(r, 'currency') === 'BASE_SUMMARY');
    const equity = rows(statement.EquitySummaryInBase, 'EquitySummaryByReportDateInBase').at(-1);
    const statementCash = baseSummary === undefined ? (equity === undefined ? undefined : decimalAttr(equity, 'cash')) : decimalAttr(baseSummary, 'endingCash');
    // Multi-account statements: the accounts' base cash adds up.
    if (statementCash !== undefined) cash = cash === undefined ? statementCash : addDecimal(cash, statementCash);
  }

  const byTime = <T>(time: (x: T) => number, id: (x: T) => string) => (a: T, b: T) => time(a) - time(b) || (id(a) < id(b) ? -1 : id(a) > id(b) ? 1 : 0);
  fills.sort(byTime((f: Fill) => f.executedAt, (f) => f.exchangeTradeId));
  cashFlows.sort(byTime((f: CashFlow) => f.occurredAt, (f) => f.exchangeFlowId));
  for (const list of prices.values()) list.sort((a, b) => a.at - b.at);
  return { baseCurrency, reportedAt, generatedAt, fromDate, fills: dedupeBy(fills, (f) => f.exchangeTradeId), cashFlows: dedupeBy(cashFlows, (f) => f.exchangeFlowId), cash, positions, prices };
}

function dedupeBy<T>(list: readonly T[], key: (x: T) => string): T[] {
  const seen = new Set<string>();
  return list.filter((x) => {
    const k = key(x);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
