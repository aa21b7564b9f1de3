import test from 'ava';
import { status } from '@grpc/grpc-js';
import { ReportPeriod } from '../../src/grpc/generated/enclave.js';
import { performanceReportFromWire, performanceStatsFromWire, performanceStatsToWire, hourlyReturnFromWire, hourlyReturnToWire, ANNUALIZATION_NOTE } from '../../src/grpc/wire.js';
import { AccountNotFoundError } from '../../src/actors/errors.js';
import { HOUR, T0, isServiceError, samplePerformance, startHarness, unary, type Harness } from '../../testkit/support/grpc-client.js';

let h: Harness;
test.before(async () => { h = await startHarness(); });
test.after.always(async () => { await h.close(); });

const base = { userUid: 'user_123', exchange: 'binance', period: ReportPeriod.REPORT_PERIOD_1Y, fromMs: 0, toMs: 0, currency: '', benchmark: '' };
const report = (req: typeof base & { riskFreeRate?: number; sortinoTarget?: number }) => unary(h.client.getPerformanceReport.bind(h.client), req);

test.serial('GetPerformanceReport validates, asks the port once and answers with the report, its currency and notes', async (t) => {
  h.port.calls.length = 0;
  let asked: unknown;
  h.port.behaviour.getPerformanceReport = async (request, ask) => {
    asked = request;
    h.port.behaviour.getPerformanceReport = undefined;
    return h.port.getPerformanceReport(request, ask);
  };
  const reply = await report({ ...base, currency: 'BTC', benchmark: 'BTC', riskFreeRate: 0.04 });
  t.like(asked, { userUid: 'user_123', exchange: 'binance', period: '1Y', custom: null, currency: 'BTC', benchmark: 'BTC', options: { riskFreeRate: 0.04, sortinoTarget: 0 } });
  t.is(reply.currency, 'BTC');
  t.is(reply.baseCurrency, 'USDT');
  t.is(reply.period, ReportPeriod.REPORT_PERIOD_1Y);
  t.is(reply.hours, 48);
  t.is(reply.annualizedReturn, undefined, '48 hours are not annualized');
  t.true(reply.notes.some((n) => n.includes('GIPS forbids')));
  t.is(reply.riskFreeRate, 0.04);
  const back = performanceReportFromWire(reply);
  t.is(back.report.annualizedReturn, null);
  t.is(back.report.hours, 48);
  t.deepEqual(back.exchanges, ['binance']);
});

test.serial('an empty exchange asks for the composite of all the user\'s accounts; a custom period carries its range', async (t) => {
  let asked: unknown;
  h.port.behaviour.getPerformanceReport = async (request) => { asked = request; throw new AccountNotFoundError('none'); };
  const error = await report({ ...base, exchange: '', period: ReportPeriod.REPORT_PERIOD_CUSTOM, fromMs: T0, toMs: T0 + 5 * HOUR }).catch((e: unknown) => e);
  h.port.behaviour.getPerformanceReport = undefined;
  t.like(asked, { exchange: null, period: 'CUSTOM', custom: { from: T0, to: T0 + 5 * HOUR } });
  t.true(isServiceError(error) && error.code === status.NOT_FOUND);
});

test.serial('an unknown period, currency, benchmark or an absurd rate is INVALID_ARGUMENT naming each field', async (t) => {
  const error = await report({ ...base, period: ReportPeriod.REPORT_PERIOD_UNSPECIFIED, currency: 'EUR', benchmark: 'GOLD', riskFreeRate: 1e9 }).catch((e: unknown) => e);
  t.true(isServiceError(error) && error.code === status.INVALID_ARGUMENT);
  for (const field of ['period', 'currency', 'benchmark', 'risk_free_rate']) t.true(isServiceError(error) && error.details.includes(field), field);
});

test('hour flags and the absent annualized return survive the wire', (t) => {
  const hour = { hourStart: T0, return: 0, cumulativeReturn: 0.1, equityEnd: 5, netFlow: 0, flags: ['stale-mark', 'unvalued'] as const };
  t.deepEqual(hourlyReturnFromWire(hourlyReturnToWire({ ...hour, flags: [...hour.flags] })), { ...hour, flags: [...hour.flags] });
  const clean = { hourStart: T0, return: 0.01, cumulativeReturn: 0.01, equityEnd: 5, netFlow: 0 };
  t.deepEqual(hourlyReturnFromWire(hourlyReturnToWire(clean)), clean);
  t.deepEqual(hourlyReturnFromWire({ ...hourlyReturnToWire(clean), flags: ['from-the-future'] }), clean, 'unknown flags are dropped');
  const stats = { ...samplePerformance, annualizedReturn: null, calmar: null };
  const wire = performanceStatsToWire(stats, 'USD');
  t.is(wire.annualizedReturn, undefined);
  t.is(wire.annualizationNote, ANNUALIZATION_NOTE);
  t.is(wire.currency, 'USD');
  t.deepEqual(performanceStatsFromWire(wire), stats);
});
