// The real service in-process for end-to-end tests: startService on a throw-away PostgreSQL
// database, free ports, a captured logger, and a generated gRPC client.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials } from '@grpc/grpc-js';
import { loadConfig } from '../../src/config/config.js';
import { startService, type RunningService, type ServiceOverrides } from '../../src/app/service.js';
import { EnclaveServiceClient } from '../../src/grpc/generated/enclave.js';
import { createTestDatabase, type TestDatabase } from '../../testkit/support/database.js';
import { captureLogger } from '../../testkit/support/grpc-client.js';

export interface ServiceHarness {
  readonly service: RunningService;
  readonly db: TestDatabase;
  readonly client: EnclaveServiceClient;
  readonly target: string;
  /** Every log line the service wrote. */
  readonly lines: string[];
  close(): Promise<void>;
}

export async function startServiceHarness(env: Record<string, string> = {}, overrides: ServiceOverrides = {}): Promise<ServiceHarness> {
  const db = await createTestDatabase();
  const scratch = mkdtempSync(join(tmpdir(), 'service-'));
  const config = loadConfig({
    DATABASE_URL: db.url,
    ENCLAVE_PORT: '0',
    METRICS_PORT: '0',
    ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    EMBEDDED_DB_DIR: join(scratch, 'pglite'),
    TSM_REPORT_ROOT: join(scratch, 'no-tsm'),
    ...env,
  });
  const { logger, lines } = captureLogger();
  let service: RunningService;
  try {
    service = await startService(config, logger, overrides);
  } catch (error) {
    await db.drop();
    throw error;
  }
  const target = `127.0.0.1:${service.grpcPort}`;
  const client = new EnclaveServiceClient(target, credentials.createInsecure());
  return {
    service,
    db,
    client,
    target,
    lines,
    async close() {
      client.close();
      await service.stop();
      await db.drop();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/**
 * Rows of each private and published table for one account. The service seals private rows
 * (sealed_*; docs/sealed-storage.md): the legacy plaintext tables stay empty for it.
 */
export async function accountRowCounts(db: TestDatabase, userUid: string, exchange: string): Promise<Record<string, number>> {
  const pg = await import('pg');
  const client = new pg.default.Client({ connectionString: db.url });
  await client.connect();
  try {
    const counts: Record<string, number> = {};
    for (const table of ['exchange_connections', 'sealed_pages', 'sealed_index', 'sealed_records', 'hourly_returns', 'balance_snapshots']) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE user_uid = $1 AND exchange = $2`, [userUid, exchange]);
      counts[table] = Number(rows[0]?.n ?? 0);
    }
    return counts;
  } finally {
    await client.end();
  }
}
