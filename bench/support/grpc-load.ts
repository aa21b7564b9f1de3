// The gRPC bench's load client, run as its own process (bench/grpc.ts spawns it): open-loop
// GetAggregatedMetrics at a fixed rate, requests go out on schedule whether or not earlier ones
// have answered. Prints one JSON line: latencies (ms) of the measured window, errors, elapsed, and
// this client's own CPU.
import { credentials, Metadata } from '@grpc/grpc-js';
import { EnclaveServiceClient } from '../../src/grpc/generated/enclave.js';

export interface LoadPlan {
  readonly port: number;
  readonly rate: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly accounts: number;
  readonly userPrefix: string;
  readonly exchange: string;
}

export interface LoadResult {
  readonly latenciesMs: number[];
  readonly errors: number;
  readonly errorCodes: Record<string, number>;
  readonly elapsedMs: number;
  readonly clientCpuUs: number;
}

const plan = JSON.parse(process.argv[2] ?? '{}') as LoadPlan;
const client = new EnclaveServiceClient(`127.0.0.1:${plan.port}`, credentials.createInsecure(), { 'grpc.enable_channelz': 0 });
await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
const latenciesMs: number[] = [];
const errorCodes: Record<string, number> = {};
let errors = 0;
let sent = 0;
let done = 0;
const total = Math.round(plan.rate * (plan.warmupSeconds + plan.seconds));
const warmup = Math.round(plan.rate * plan.warmupSeconds);
const start = performance.now();
let measureStart = start;
let cpuStart = process.cpuUsage();
await new Promise<void>((resolve) => {
  const fire = (): void => {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * plan.rate));
    while (sent < due) {
      const index = sent++;
      if (index === warmup) {
        measureStart = performance.now();
        cpuStart = process.cpuUsage();
      }
      const t0 = performance.now();
      const request = { userUid: `${plan.userPrefix}${index % plan.accounts}`, exchange: plan.exchange };
      client.getAggregatedMetrics(request, new Metadata(), { deadline: Date.now() + 5_000 }, (error) => {
        const ms = performance.now() - t0;
        if (index >= warmup) {
          if (error === null) latenciesMs.push(ms);
          else {
            errors++;
            errorCodes[String(error.code)] = (errorCodes[String(error.code)] ?? 0) + 1;
          }
        }
        if (++done === total) resolve();
      });
    }
    if (sent < total) setTimeout(fire, 1);
  };
  fire();
});
const elapsedMs = performance.now() - measureStart;
const cpu = process.cpuUsage(cpuStart);
client.close();
const result: LoadResult = { latenciesMs, errors, errorCodes, elapsedMs, clientCpuUs: cpu.user + cpu.system };
process.stdout.write(`${JSON.stringify(result)}\n`);
