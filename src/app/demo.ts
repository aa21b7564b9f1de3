// The demo that `npm start` runs on a fresh machine: a `simulated` account is added (once),
// synced, and its published returns and metrics printed. Outside enclave mode only.
import type { Logger } from '../config/logger.js';
import type { AccountKey } from '../domain/types.js';
import { encodeCredential } from '../crypto/credential.js';
import { sealEnvelope } from '../crypto/envelope.js';
import { equityChart, performanceTable, returnsTable } from '../cli/render.js';
import type { RunningService } from './service.js';
import { deadlineSignal } from '../actors/nact.js';

export const DEMO_ACCOUNT: AccountKey = { userUid: 'demo', exchange: 'simulated' };
const YEAR_MS = 365 * 24 * 3_600_000;

export async function runDemo(service: RunningService, logger: Logger, write: (text: string) => void): Promise<void> {
  const { connections } = service.storage;
  const known = await connections.listConnections();
  if (!known.some((c) => c.account.userUid === DEMO_ACCOUNT.userUid && c.account.exchange === DEMO_ACCOUNT.exchange)) {
    const plaintext = encodeCredential({ apiKey: 'demo', secret: 'demo' });
    try {
      await connections.saveConnection(DEMO_ACCOUNT, sealEnvelope(service.keyring, DEMO_ACCOUNT, plaintext));
    } finally {
      plaintext.fill(0);
    }
    logger.info({ account: 'simulated:demo' }, 'demo account added');
  }
  const { supervisor } = service.runtime;
  const started = Date.now();
  const result = await supervisor.sync(DEMO_ACCOUNT, 'incremental', { signal: deadlineSignal(10 * 60_000) });
  const now = Date.now();
  const returns = await service.reads.returns(DEMO_ACCOUNT, now - YEAR_MS, now);
  const metrics = await service.reads.performance(DEMO_ACCOUNT);
  write([
    '',
    `Demo account simulated/demo synced in ${now - started} ms: ${result.fillsIngested} new fills, ${result.cashFlowsIngested} new cash flows, ${result.hourlyReturnsWritten} hours computed.`,
    '',
    'Latest hourly returns:',
    returnsTable(returns),
    '',
    'Growth of 1 unit over the published history:',
    equityChart(returns),
    '',
    performanceTable(metrics),
    '',
    `gRPC (enclave.v1.EnclaveService) on port ${service.grpcPort}; Prometheus metrics on http://127.0.0.1:${service.metricsPort}/metrics. Ctrl-C stops.`,
    '',
  ].join('\n'));
}
