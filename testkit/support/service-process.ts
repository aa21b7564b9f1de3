// The real service as a child process (src/main.ts under tsx, so no build step), for the
// reliability tests and the soak: it captures every stdout/stderr line, learns the gRPC and
// metrics ports from the "enclave worker started" line, and can be stopped by any signal.
//
//   const svc = await startServiceProcess({ DATABASE_URL: db.url, ENCRYPTION_KEY: KEY_HEX, ... });
//   ... svc.client ...
//   const exit = await svc.stop('SIGTERM');
import type { DisclosureLevel } from '../../src/domain/disclosure.js';
import { createDisclosureStore } from '../../src/storage/disclosure-store.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { credentials } from '@grpc/grpc-js';
import type { DatabasePool } from 'slonik';
import { EnclaveServiceClient } from '../../src/grpc/generated/enclave.js';
import { HealthClient } from '../../src/grpc/generated/health/v1/health.js';
import { createKeyring } from '../../src/crypto/keyring.js';
import { sealEnvelope } from '../../src/crypto/envelope.js';
import { encodeCredential } from '../../src/crypto/credential.js';
import { createConnectionRepository } from '../../src/storage/connections.js';
import type { AccountKey } from '../../src/domain/types.js';
import type { VenueCredential } from '../../src/domain/types.js';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** A fixed test key (never used outside tests). */
export const TEST_KEY_HEX = '5e'.repeat(32);
export const TEST_KEY_ID = 1;

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Time from the stop signal to the exit, ms. */
  readonly afterMs: number;
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly metricsPort: number;
  /** Every line the process wrote, stdout and stderr alike, in arrival order. */
  readonly lines: string[];
  readonly client: EnclaveServiceClient;
  readonly health: HealthClient;
  readonly exited: Promise<ProcessExit>;
  /** Sends the signal and resolves when the process has exited. */
  stop(signal?: NodeJS.Signals): Promise<ProcessExit>;
  metricsText(): Promise<string>;
}

export function serviceEnv(overrides: Record<string, string>): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    ENCRYPTION_KEY: TEST_KEY_HEX,
    ENCRYPTION_KEY_ID: String(TEST_KEY_ID),
    ENCLAVE_PORT: '0',
    METRICS_PORT: '0',
    DEMO: 'false',
    SYNC_INTERVAL_MS: '0',
    POOL_THREADS: '1',
    LOG_LEVEL: 'debug',
    ...overrides,
  };
}

export async function startServiceProcess(env: Record<string, string>, options: { readonly startTimeoutMs?: number } = {}): Promise<ServiceProcess> {
  const startedAt = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: REPO_ROOT, env: serviceEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let stopAt = 0;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal, afterMs: stopAt === 0 ? 0 : Date.now() - stopAt }));
  });
  let ports: { grpcPort: number; metricsPort: number } | undefined;
  let onPorts: (() => void) | undefined;
  const collect = (stream: NodeJS.ReadableStream): void => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      for (const line of parts) {
        if (line.length === 0) continue;
        lines.push(line);
        if (ports === undefined && line.includes('"enclave worker started"')) {
          const parsed = JSON.parse(line) as { grpcPort: number; metricsPort: number };
          ports = { grpcPort: parsed.grpcPort, metricsPort: parsed.metricsPort };
          onPorts?.();
        }
      }
    });
    stream.on('end', () => {
      if (rest.length > 0) lines.push(rest);
    });
  };
  collect(child.stdout!);
  collect(child.stderr!);
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  // The ports come from an info line: never start below info.
  if (env.LOG_LEVEL !== undefined && !['info', 'debug', 'trace'].includes(env.LOG_LEVEL)) throw new Error('LOG_LEVEL must be info or lower');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
    onPorts = () => {
      clearTimeout(timer);
      resolve();
    };
    void exited.then((exit) => {
      if (ports !== undefined) return;
      clearTimeout(timer);
      reject(new Error(`the service exited during start-up (${exit.code ?? exit.signal ?? '?'}) after ${Date.now() - startedAt} ms:\n${lines.slice(-20).join('\n')}`));
    });
  }).catch((error: unknown) => {
    child.kill('SIGKILL');
    throw error;
  });
  const { grpcPort, metricsPort } = ports!;
  const address = `127.0.0.1:${grpcPort}`;
  const client = new EnclaveServiceClient(address, credentials.createInsecure());
  const health = new HealthClient(address, credentials.createInsecure());
  let stopping: Promise<ProcessExit> | undefined;
  return {
    child,
    grpcPort,
    metricsPort,
    lines,
    client,
    health,
    exited,
    stop(signal = 'SIGTERM') {
      stopping ??= (async () => {
        stopAt = Date.now();
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        const exit = await exited;
        client.close();
        health.close();
        return exit;
      })();
      return stopping;
    },
    async metricsText() {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
      return response.text();
    },
  };
}

/** Seals the credential with the test key and stores the connection, as the connect flow would. */
export async function connectAccount(pool: DatabasePool, account: AccountKey, credential: VenueCredential, options: { readonly disclosureLevel?: DisclosureLevel } = {}): Promise<void> {
  const secret = Buffer.from(TEST_KEY_HEX, 'hex');
  const keyring = createKeyring([{ id: TEST_KEY_ID, secret }], TEST_KEY_ID);
  const plaintext = encodeCredential(credential);
  try {
    await createConnectionRepository(pool).saveConnection(account, sealEnvelope(keyring, account, plaintext));
    if (options.disclosureLevel !== undefined) await createDisclosureStore(pool).setDisclosureLevel(account, options.disclosureLevel);
  } finally {
    plaintext.fill(0);
  }
}
