// Generated malformed requests for the real gRPC server, sent as raw protobuf bytes so that wrong
// wire types, int64s past 2^53, unknown enum numbers and oversized messages reach the server as a
// hostile client would send them. Each request carries the status an independent model expects:
//   - larger than the server's 64 KiB limit        → RESOURCE_EXHAUSTED
//   - any field invalid, or bytes not decodable      → INVALID_ARGUMENT
//   - well-formed but naming no connected account    → NOT_FOUND (the honest answer: the request
//     is valid, the account does not exist; nothing about it is echoed)
// Used by test/reliability/grpc-fuzz.test.ts (1,000 requests) and scripts/soak.ts (10,000).
import { Client, Metadata, credentials, status, type ServiceError } from '@grpc/grpc-js';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import fc from 'fast-check';

export const MAX_REQUEST_BYTES = 64 * 1024;
const MAX_RANGE_MS = 366 * 24 * 3_600_000;
const MAX_EPOCH_MS = 8_640_000_000_000_000n;
const EXCHANGES = ['binance', 'bybit', 'bitget', 'mexc', 'alpaca', 'ibkr', 'simulated'];
/** Restated here from the proto's documentation, not imported, so the model is independent. */
const UID_ALLOWED = /^[A-Za-z0-9_.:@-]{1,128}$/u;

type Method = 'ProcessSyncJob' | 'CalculateHistoricalReturns' | 'GetAggregatedMetrics' | 'GetSnapshotTimeSeries';

export interface FuzzRequest {
  readonly method: Method;
  readonly bytes: Uint8Array;
  readonly expected: status;
  readonly kind: string;
}

const SQL_SHELL = [
  "'; DROP TABLE trades; --", '" OR 1=1 --', "1' OR '1'='1", '$(rm -rf /)', '`id`', '| cat /etc/passwd', '; shutdown -h now',
  '%', '%_%', '\\', '\u0000', 'a\u0000b', '../../etc/passwd', '{{7*7}}', '${jndi:ldap://x}', '<script>', 'ユーザー', 'a b', '\n', 'x'.repeat(129),
];

const validUid = fc.stringMatching(/^[A-Za-z0-9_.:@-]{1,40}$/u).map((s) => `fuzz_${s}`.slice(0, 128));
const uid = fc.oneof(
  { weight: 3, arbitrary: validUid },
  { weight: 3, arbitrary: fc.constantFrom(...SQL_SHELL) },
  { weight: 2, arbitrary: fc.tuple(validUid, fc.constantFrom(...SQL_SHELL)).map(([a, b]) => a + b) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.integer({ min: 129, max: 90_000 }).map((n) => 'u'.repeat(n)) },
);
const exchange = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...EXCHANGES) },
  { weight: 1, arbitrary: fc.constantFrom('BINANCE', 'binance ', 'coinbase', '', "binance'--", 'binance\u0000') },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
);
const syncType = fc.oneof(fc.constantFrom(1, 2), fc.constantFrom(0, 3, -1, 99), fc.integer());
const now = BigInt(Date.UTC(2026, 10, 1));
const epoch = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: now - 400n * 86_400_000n, max: now }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, -1n, MAX_EPOCH_MS, MAX_EPOCH_MS + 1n, 2n ** 53n, 2n ** 63n - 1n, -(2n ** 63n)) },
  { weight: 1, arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }) },
);

function uidOk(s: string): boolean {
  // What the server sees is the UTF-8 round trip (lone surrogates become U+FFFD).
  return UID_ALLOWED.test(new TextDecoder().decode(new TextEncoder().encode(s)));
}

function rangeOk(from: bigint, to: bigint): boolean {
  const inBounds = (v: bigint): boolean => v >= 0n && v <= MAX_EPOCH_MS;
  return inBounds(from) && inBounds(to) && to > from && to - from <= BigInt(MAX_RANGE_MS);
}

function finish(method: Method, writer: BinaryWriter, valid: boolean, kind: string): FuzzRequest {
  const bytes = writer.finish();
  // grpc-js counts the message itself against the limit.
  const expected = bytes.length > MAX_REQUEST_BYTES ? status.RESOURCE_EXHAUSTED : valid ? status.NOT_FOUND : status.INVALID_ARGUMENT;
  return { method, bytes, expected, kind };
}

const typed: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.record({ uid, exchange, type: syncType }).map(({ uid: u, exchange: e, type }) => {
    const w = new BinaryWriter().uint32(10).string(u).uint32(18).string(e).uint32(24).int32(type);
    return finish('ProcessSyncJob', w, uidOk(u) && EXCHANGES.includes(e) && (type === 1 || type === 2), 'typed sync');
  }),
  fc.record({ uid, exchange }).map(({ uid: u, exchange: e }) =>
    finish('GetAggregatedMetrics', new BinaryWriter().uint32(10).string(u).uint32(18).string(e), uidOk(u) && EXCHANGES.includes(e), 'typed metrics')),
  fc.record({ uid, exchange, from: epoch, to: epoch, method: fc.constantFrom<Method>('CalculateHistoricalReturns', 'GetSnapshotTimeSeries') }).map((r) => {
    const w = new BinaryWriter().uint32(10).string(r.uid).uint32(18).string(r.exchange).uint32(24).int64(r.from).uint32(32).int64(r.to);
    return finish(r.method, w, uidOk(r.uid) && EXCHANGES.includes(r.exchange) && rangeOk(r.from, r.to), 'typed range');
  }),
);

const anyMethod = fc.constantFrom<Method>('ProcessSyncJob', 'CalculateHistoricalReturns', 'GetAggregatedMetrics', 'GetSnapshotTimeSeries');

/** Wrong wire types for known fields, truncated fields, garbage: never a valid account request. */
const raw: fc.Arbitrary<FuzzRequest> = fc.oneof(
  fc.record({ method: anyMethod, bytes: fc.uint8Array({ minLength: 1, maxLength: 300 }) }).map(({ method, bytes }) => {
    // A leading user_uid of "!" makes even a lucky decode invalid, whatever follows.
    const w = new BinaryWriter().uint32(10).string('!');
    w.raw(bytes);
    return finish(method, w, false, 'garbage');
  }),
  fc.record({ method: anyMethod, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }).map(({ method, value }) =>
    // user_uid (field 1) and exchange (field 2) sent as varints: the decoder skips them, leaving both empty.
    finish(method, new BinaryWriter().uint32(8).uint64(value).uint32(16).uint64(value), false, 'wrong wire type')),
  fc.record({ method: anyMethod, length: fc.integer({ min: 5, max: 1_000_000 }) }).map(({ method, length }) =>
    // A length prefix longer than the bytes that follow.
    finish(method, new BinaryWriter().uint32(10).uint32(length).raw(new Uint8Array([0x61, 0x62])), false, 'truncated')),
  fc.record({ method: anyMethod, size: fc.integer({ min: MAX_REQUEST_BYTES + 1, max: 4 * MAX_REQUEST_BYTES }) }).map(({ method, size }) =>
    // An unknown field carrying a huge blob: oversized whatever it holds.
    finish(method, new BinaryWriter().uint32(10).string('fuzz_user').uint32(18).string('binance').uint32(802).bytes(new Uint8Array(size)), false, 'oversized')),
);

export const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc.oneof({ weight: 3, arbitrary: typed }, { weight: 1, arbitrary: raw });

export interface RawClient {
  send(request: FuzzRequest, deadlineMs?: number): Promise<{ code: status; details: string }>;
  close(): void;
}

export function rawClient(address: string): RawClient {
  const client = new Client(address, credentials.createInsecure(), { 'grpc.max_send_message_length': -1 });
  const identity = (b: Uint8Array): Buffer => Buffer.from(b);
  return {
    send(request, deadlineMs = 30_000) {
      return new Promise((resolve) => {
        client.makeUnaryRequest(`/enclave.v1.EnclaveService/${request.method}`, identity, identity, request.bytes, new Metadata(), { deadline: Date.now() + deadlineMs }, (error: ServiceError | null) => {
          resolve(error === null ? { code: status.OK, details: '' } : { code: error.code, details: error.details });
        });
      });
    },
    close: () => client.close(),
  };
}

export interface FuzzFigures {
  readonly requests: number;
  readonly mismatches: number;
  /** Calls answered UNKNOWN or INTERNAL (an unhandled failure), plus process exits. */
  readonly crashes: number;
  readonly byCode: Record<string, number>;
  readonly firstMismatch?: { readonly method: string; readonly kind: string; readonly expected: string; readonly got: string; readonly details: string; readonly bytes: number };
}

/** Sends `count` generated requests (deterministic for a seed), `concurrency` at a time. */
export async function fuzzServer(client: RawClient, options: { readonly count: number; readonly seed: number; readonly concurrency?: number; readonly alive: () => boolean }): Promise<FuzzFigures> {
  const requests = fc.sample(fuzzRequest, { numRuns: options.count, seed: options.seed });
  const byCode: Record<string, number> = {};
  let mismatches = 0;
  let crashes = 0;
  let firstMismatch: FuzzFigures['firstMismatch'];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const request = requests[next++]!;
      const reply = await client.send(request);
      const name = status[reply.code] ?? String(reply.code);
      byCode[name] = (byCode[name] ?? 0) + 1;
      if (reply.code === status.UNKNOWN || reply.code === status.INTERNAL) crashes += 1;
      if (reply.code !== request.expected) {
        mismatches += 1;
        firstMismatch ??= { method: request.method, kind: request.kind, expected: status[request.expected], got: name, details: reply.details, bytes: request.bytes.length };
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, worker));
  if (!options.alive()) crashes += 1;
  return { requests: requests.length, mismatches, crashes, byCode, ...(firstMismatch === undefined ? {} : { firstMismatch }) };
}
