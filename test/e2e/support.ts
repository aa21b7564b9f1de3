// End-to-end support: the built service as a child process, a fake venue account, and the one
// place that adds an account (swap `addAccount` for the ops CLI once it exists).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import type { AccountKey } from '../../src/domain/types.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = join(ROOT, 'node_modules/.bin/node');
const TSC = join(ROOT, 'node_modules/.bin/tsc');
const MAIN = join(ROOT, 'dist/main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds dist/ with tsc only when a source file is newer than dist/main.js (the build is what ships). */
export async function ensureBuilt(): Promise<void> {
  let built = 0;
  try {
    built = statSync(MAIN).mtimeMs;
  } catch {
    built = 0;
  }
  const sources = Math.max(newestMtime(join(ROOT, 'src')), statSync(join(ROOT, 'tsconfig.build.json')).mtimeMs, statSync(join(ROOT, 'tsconfig.json')).mtimeMs);
  if (built > sources) return;
  await promisify(execFile)(NODE, [TSC, '-p', 'tsconfig.build.json'], { cwd: ROOT, timeout: 120_000 });
}

export interface ServiceProcess {
  readonly child: ChildProcess;
  readonly grpcPort: number;
  readonly metricsPort: number;
  /** Everything the process wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code and how long the exit took. */
  terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** Starts `node dist/main.js` with exactly `env` (plus PATH), on free ports; resolves once it serves. */
export async function startServiceProcess(env: Record<string, string>, timeoutMs = 90_000): Promise<ServiceProcess> {
  const child = spawn(NODE, [MAIN], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ENCLAVE_PORT: '0', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const ports = new Promise<{ grpcPort: number; metricsPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not start within ${timeoutMs} ms:\n${text}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      for (const line of text.split('\n')) {
        if (!line.includes('"enclave worker started"')) continue;
        const parsed = JSON.parse(line) as { grpcPort: number; metricsPort: number };
        clearTimeout(timer);
        resolve({ grpcPort: parsed.grpcPort, metricsPort: parsed.metricsPort });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(([code]) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code}) before serving:\n${text}`));
    });
  });
  const { grpcPort, metricsPort } = await ports;
  return {
    child,
    grpcPort,
    metricsPort,
    output: () => text,
    async terminate() {
      const start = performance.now();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const [code, signal] = await exited;
      return { code, signal, ms: performance.now() - start };
    },
  };
}

/** Where the service keeps its data: a PostgreSQL URL or an embedded-database directory. */

export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly argv: readonly string[];
}

/**
 * Adds a venue account the way an operator does: the built ops CLI (`enclave add`) reads the key
 * and secret from standard input, seals them to the running enclave's public key, and registers
 * them over gRPC. Returns everything the CLI printed, for the leak checks.
 */
export async function addAccount(grpcTarget: string, account: AccountKey, credential: { apiKey: string; secret: string }, extraArgs: readonly string[] = []): Promise<CliRun> {
  const child = spawn(NODE, [join(ROOT, 'dist/cli/main.js'), 'add', account.userUid, account.exchange, '--insecure-dev', '--target', grpcTarget, ...extraArgs], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString('utf8'); });
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString('utf8'); });
  child.stdin.end(JSON.stringify(credential));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? -1, stdout, stderr, argv: child.spawnargs };
}

type Unary<Req, Res> = (request: Req, metadata: Metadata, options: Partial<CallOptions>, callback: (error: ServiceError | null, response: Res) => void) => ClientUnaryCall;

/** Promisifies one unary call of a generated client (pass the method bound to its client). */
export function unary<Req, Res>(method: Unary<Req, Res>, request: Req, deadlineMs = 60_000): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), { deadline: Date.now() + deadlineMs }, (error, response) => (error === null ? resolve(response) : reject(error)));
  });
}
