// A fake IBKR Flex Web Service v3: /AccountManagement/FlexWebService/SendRequest and /GetStatement
// with the real XML envelopes (FlexStatementResponse Success/Warn/Fail with ErrorCode and
// ErrorMessage) and statement (FlexQueryResponse > FlexStatements > FlexStatement with Trades,
// CashTransactions, OpenPositions, CashReport). Token, query id, version and User-Agent are checked;
// scripted codes (1019 in progress, 1018 too many requests, …) are answered in order.
import { randomInt } from 'node:crypto';
import { sendXml, startFakeServer, type FakeServer } from './broker-fake-server.js';

export const FLEX_MESSAGES: Readonly<Record<number, string>> = {
  1001: 'Statement could not be generated at this time. Please try again shortly.',
  1003: 'Statement is not available.',
  1009: 'The server is under heavy load. Statement could not be generated at this time. Please try again shortly.',
  1012: 'Token has expired.',
  1014: 'Query is invalid.',
  1015: 'Token is invalid.',
  1017: 'Reference code is invalid.',
  1018: 'Too many requests have been made from this token. Please try again shortly.',
  1019: 'Statement generation in progress. Please try again shortly.',
  1020: 'Invalid request or unable to validate request.',
};

export type FlexAttributes = Readonly<Record<string, string>>;

export interface FlexFakeState {
  accountId: string;
  /** The AccountInformation currency; '' leaves AccountInformation out (a query without that section). */
  baseCurrency: string;
  /** When the statement says it was generated, e.g. "20250110;120000". */
  whenGenerated: string;
  trades: FlexAttributes[];
  cashTransactions: FlexAttributes[];
  openPositions: FlexAttributes[];
  /** Transfer rows (ACATS, internal, FOP) and CorporateAction rows, as in an Activity Flex query. */
  transfers: FlexAttributes[];
  corporateActions: FlexAttributes[];
  /** OptionEAE rows (exercises, assignments, expirations and their underlying deliveries). */
  optionEAE: FlexAttributes[];
  /** A second account in the same statement (multi-account query) with this base currency. */
  secondAccountCurrency: string | undefined;
  /** BASE_SUMMARY endingCash; omitted from the statement when undefined. */
  endingCash: string | undefined;
  /** Codes answered, in order, before the endpoint behaves normally. */
  script: { endpoint: 'SendRequest' | 'GetStatement'; code: number }[];
}

export interface FlexFake {
  readonly server: FakeServer;
  readonly url: string;
  readonly state: FlexFakeState;
  /** Statements served (GetStatement answers that were a FlexQueryResponse). */
  statementsServed(): number;
  close(): Promise<void>;
}

function escape(value: string): string {
  if (!/[&"<>]/u.test(value)) return value;
  return value.replace(/&/gu, '&amp;').replace(/"/gu, '&quot;').replace(/</gu, '&lt;').replace(/>/gu, '&gt;');
}

function element(tag: string, attributes: FlexAttributes): string {
  return `<${tag} ${Object.entries(attributes).map(([k, v]) => `${k}="${escape(v)}"`).join(' ')} />`;
}

const TIMESTAMP = '10 January, 2025 12:00 PM EST';

function envelope(status: 'Success' | 'Warn' | 'Fail', inner: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<FlexStatementResponse timestamp="${TIMESTAMP}">\n<Status>${status}</Status>\n${inner}\n</FlexStatementResponse>\n`;
}

export function flexError(code: number): string {
  return envelope(code === 1019 ? 'Warn' : 'Fail', `<ErrorCode>${code}</ErrorCode>\n<ErrorMessage>${FLEX_MESSAGES[code] ?? 'Unknown error.'}</ErrorMessage>`);
}

/** A Trade row as an Activity Flex query with execution detail writes it. */
export function flexTrade(overrides: Partial<Record<string, string>> & { tradeID: string; dateTime: string }): FlexAttributes {
  return {
    accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', assetCategory: 'STK', symbol: 'AAPL', description: 'APPLE INC',
    conid: '265598', multiplier: '1', transactionType: 'ExchTrade', tradeDate: overrides.dateTime.slice(0, 8), quantity: '10',
    tradePrice: '185.5', ibCommission: '-1', ibCommissionCurrency: 'USD', buySell: 'BUY', levelOfDetail: 'EXECUTION',
    ibExecID: `0000e0d5.${overrides.tradeID}.01.01`, transactionID: `9${overrides.tradeID}`,
    ...overrides,
  } as FlexAttributes;
}

export function flexCash(overrides: Partial<Record<string, string>> & { transactionID: string; dateTime: string; amount: string }): FlexAttributes {
  return {
    accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', type: 'Deposits/Withdrawals',
    description: 'CASH RECEIPTS / ELECTRONIC FUND TRANSFERS', levelOfDetail: 'DETAIL', settleDate: overrides.dateTime.slice(0, 8),
    ...overrides,
  } as FlexAttributes;
}

// Row shapes below follow the attribute names and code values of IB's Flex Activity reference as
// the open-source parser csingley/ibflex (ibflex/Types.py: Trade, CashTransaction, Transfer,
// CorporateAction; ibflex/enums.py: CashAction, Reorg, Code) records them: CashTransaction `type`
// "Dividends" / "Withholding Tax" / "Broker Interest Received" / "Other Fees"; Trade `notes` codes
// "Ca" (cancelled), "Ep" (expired), "A" (assignment); Reorg types "FS" (forward split), "TC" (merger).

/** A CashTransaction of any type (dividend, tax, interest, fee), DETAIL level. */
export function flexCashOfType(type: string, overrides: Partial<Record<string, string>> & { dateTime: string; amount: string }): FlexAttributes {
  return {
    accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', assetCategory: 'STK', symbol: 'AAPL', type,
    description: `AAPL(US0378331005) ${type.toUpperCase()}`, levelOfDetail: 'DETAIL', reportDate: overrides.dateTime.slice(0, 8),
    ...overrides,
  } as FlexAttributes;
}

/** An ACATS transfer in of a position (Transfer row). */
export function flexTransfer(overrides: Partial<Record<string, string>> & { date: string; quantity: string }): FlexAttributes {
  return {
    accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', assetCategory: 'STK', symbol: 'MSFT', description: 'MICROSOFT CORP',
    type: 'ACATS', direction: 'IN', company: 'OTHER BROKER', levelOfDetail: 'DETAIL', reportDate: overrides.date,
    ...overrides,
  } as FlexAttributes;
}

/** A CorporateAction row (e.g. type FS: a forward split credits the new shares). */
export function flexCorporateAction(overrides: Partial<Record<string, string>> & { type: string; dateTime: string; quantity: string }): FlexAttributes {
  return {
    accountId: 'U1234567', currency: 'USD', fxRateToBase: '1', assetCategory: 'STK', symbol: 'AAPL', multiplier: '1',
    actionDescription: 'AAPL(US0378331005) SPLIT 10 FOR 1', proceeds: '0', value: '0', levelOfDetail: 'DETAIL',
    reportDate: overrides.dateTime.slice(0, 8), transactionID: `CA${overrides.dateTime.slice(0, 8)}`,
    ...overrides,
  } as FlexAttributes;
}

/** `count` executions one minute apart from 09:30 ET on 2 January 2025 ("yyyyMMdd;HHmmss"). */
export function makeFlexTrades(count: number, firstId = 1): FlexAttributes[] {
  return Array.from({ length: count }, (_, i) => {
    const minutes = 9 * 60 + 30 + i;
    const day = 2 + Math.floor(minutes / (24 * 60));
    const m = minutes % (24 * 60);
    const dateTime = `202501${String(day).padStart(2, '0')};${String(Math.floor(m / 60)).padStart(2, '0')}${String(m % 60).padStart(2, '0')}00`;
    return flexTrade({ tradeID: String(firstId + i), dateTime, quantity: i % 2 === 0 ? '10' : '-10', buySell: i % 2 === 0 ? 'BUY' : 'SELL', tradePrice: `${180 + (i % 10)}.25` });
  });
}

export async function startFlexFake(token: string, queryId: string, initial: Partial<FlexFakeState> = {}): Promise<FlexFake> {
  const state: FlexFakeState = {
    accountId: 'U1234567',
    baseCurrency: 'USD',
    whenGenerated: '20250110;120000',
    trades: [],
    cashTransactions: [],
    openPositions: [],
    transfers: [],
    corporateActions: [],
    optionEAE: [],
    secondAccountCurrency: undefined,
    endingCash: '50000.25',
    script: [],
    ...initial,
  };
  const references = new Set<string>();
  let served = 0;

  const statementXml = (): string => {
    const section = (tag: string, child: string, list: readonly FlexAttributes[]) => (list.length === 0 ? `<${tag} />` : `<${tag}>\n${list.map((a) => element(child, a)).join('\n')}\n</${tag}>`);
    const cashReport = state.endingCash === undefined ? '' : `<CashReport>\n${element('CashReportCurrency', { accountId: state.accountId, currency: 'BASE_SUMMARY', levelOfDetail: 'BaseCurrency', endingCash: state.endingCash })}\n</CashReport>`;
    return `<?xml version="1.0" encoding="UTF-8"?>
<FlexQueryResponse queryName="track-record" type="AF">
<FlexStatements count="1">
<FlexStatement accountId="${state.accountId}" fromDate="20240110" toDate="20250109" period="Last365CalendarDays" whenGenerated="${state.whenGenerated}">
${state.baseCurrency === '' ? '' : element('AccountInformation', { accountId: state.accountId, currency: state.baseCurrency, name: 'Test Account' })}
${section('Trades', 'Trade', state.trades)}
${section('CashTransactions', 'CashTransaction', state.cashTransactions)}
${section('OpenPositions', 'OpenPosition', state.openPositions)}
${section('Transfers', 'Transfer', state.transfers)}
${section('CorporateActions', 'CorporateAction', state.corporateActions)}
${section('OptionEAE', 'OptionEAE', state.optionEAE)}
${cashReport}
</FlexStatement>
${state.secondAccountCurrency === undefined ? '' : `<FlexStatement accountId="U7654321" fromDate="20240110" toDate="20250109" period="Last365CalendarDays" whenGenerated="${state.whenGenerated}">
${element('AccountInformation', { accountId: 'U7654321', currency: state.secondAccountCurrency, name: 'Second Account' })}
<Trades />
</FlexStatement>`}
</FlexStatements>
</FlexQueryResponse>
`;
  };

  const server = await startFakeServer((req, res) => {
    const match = /^\/AccountManagement\/FlexWebService\/(SendRequest|GetStatement)$/u.exec(req.path);
    if (match === null) return sendXml(res, 404, '<html><body>Not Found</body></html>');
    const endpoint = match[1] as 'SendRequest' | 'GetStatement';
    const ua = req.headers['user-agent'];
    if (typeof ua !== 'string' || ua === '' || req.query.get('v') !== '3') return sendXml(res, 200, flexError(1020));
    if (req.query.get('t') !== token) return sendXml(res, 200, flexError(1015));
    const scripted = state.script[0];
    if (scripted !== undefined && scripted.endpoint === endpoint) {
      state.script.shift();
      return sendXml(res, 200, flexError(scripted.code));
    }
    if (endpoint === 'SendRequest') {
      if (req.query.get('q') !== queryId) return sendXml(res, 200, flexError(1014));
      const reference = String(randomInt(1_000_000_000, 9_999_999_999));
      references.add(reference);
      return sendXml(res, 200, envelope('Success', `<ReferenceCode>${reference}</ReferenceCode>\n<Url>https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService/GetStatement</Url>`));
    }
    if (!references.has(req.query.get('q') ?? '')) return sendXml(res, 200, flexError(1017));
    served += 1;
    sendXml(res, 200, statementXml());
  });
  return { server, url: server.url, state, statementsServed: () => served, close: () => server.close() };
}
