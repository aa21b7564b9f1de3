// The fast tier (`npm run test:unit`): pure tests only — domain, crypto, parsers, wire mapping, the
// layering rules. No database, server, worker pool or child process; under 30 s on 2 cores.
// Worker threads, not processes: no test here needs its own process, and each process start costs.
// `npm test` (ava's default config in package.json) runs these and everything else.
export default {
  files: [
    'test/domain/**/*.test.ts',
    'test/crypto/**/*.test.ts',
    'test/config/**/*.test.ts',
    'test/lint/**/*.test.ts',
    'test/actors/restore-schedules.test.ts',
    'test/attestation/snp-report.test.ts',
    'test/attestation/verify.test.ts',
    'test/attestation/verify-cli.test.ts',
    'test/exchanges/broker-common.test.ts',
    'test/exchanges/ccxt/ccxt-errors.test.ts',
    'test/exchanges/ccxt/derivatives-source.test.ts',
    'test/exchanges/simulated.test.ts',
    'test/grpc/wire.test.ts',
  ],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: true,
  timeout: '1m',
  concurrency: 2,
};
