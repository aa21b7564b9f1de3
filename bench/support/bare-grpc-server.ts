// The floor of the gRPC bench, as its own process: a bare grpc-js server with the same generated
// service answering GetAggregatedMetrics with one constant reply (no validation, no storage).
// Prints its port as one JSON line, then serves until killed.
import { Server, ServerCredentials, type sendUnaryData } from '@grpc/grpc-js';
import { DisclosureLevel, EnclaveServiceService, type GetAggregatedMetricsResponse } from '../../src/grpc/generated/enclave.js';

const reply: GetAggregatedMetricsResponse = {
  metrics: {
    hours: 8760, cumulativeReturn: 0.12, annualizedReturn: 0.12, annualizedVolatility: 0.3, maxDrawdown: 0.08, maxDrawdownPeakHourMs: 0, maxDrawdownTroughHourMs: 0,
    sharpe: 1, sortino: 1, calmar: 1, positiveHourShare: 0.51, bestHour: 0.01, worstHour: -0.01, totalFees: 12.5, realizedPnl: 100, unrealizedPnl: -3,
    annualizationNote: '', currency: 'USDT', flaggedHourShare: 0, flagShares: [],
  },
  disclosureLevel: DisclosureLevel.DISCLOSURE_LEVEL_FULL,
  derivatives: undefined,
};
const server = new Server({ 'grpc.enable_channelz': 0 });
const notUsed = (_call: unknown, callback: sendUnaryData<never>): void => callback({ code: 12 });
server.addService(EnclaveServiceService, {
  getAggregatedMetrics: (_call: unknown, callback: sendUnaryData<GetAggregatedMetricsResponse>) => callback(null, reply),
  processSyncJob: notUsed,
  calculateHistoricalReturns: notUsed,
  getSnapshotTimeSeries: notUsed,
  healthCheck: notUsed,
});
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (e, p) => (e === null ? resolve(p) : reject(e))),
);
process.stdout.write(`${JSON.stringify({ port })}\n`);
