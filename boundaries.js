// Which folder may import which: the one written record of the layering. eslint.config.js turns it
// into no-restricted-imports rules for every folder, and test/lint/boundaries.test.ts proves that a
// forbidden import fails lint. Change the layering here, nowhere else.

/** Folder → the folders it may import besides itself (and npm packages, unless listed below). */
export const allowedImports = {
  // Pure calculations and types: nothing of ours.
  'src/domain': [],
  'src/config': ['src/domain'],
  'src/crypto': ['src/domain', 'src/config'],
  'src/exchanges': ['src/domain'],
  'src/pool': ['src/domain'],
  'src/storage': ['src/domain', 'src/config', 'src/crypto'],
  'src/attestation': ['src/domain', 'src/crypto'],
  // Actors own accounts: venues, storage and the engine pool are what they drive.
  'src/actors': ['src/domain', 'src/config', 'src/crypto', 'src/exchanges', 'src/storage', 'src/pool'],
  // The gRPC edge validates, asks and maps: it reaches actors only through the EnclaveApi it is given
  // (it imports their error family to map it to statuses).
  'src/grpc': ['src/domain', 'src/config', 'src/actors', 'src/attestation', 'src/crypto'],
  // The development key broker (Trustee KBS protocol): verifies reports with src/attestation's
  // verifier against its policy and releases resources; src/config for HOST_DATA of a configuration
  // and the logger, src/crypto for the in-memory TLS certificate and the root-secret format.
  'src/broker': ['src/domain', 'src/config', 'src/crypto', 'src/attestation'],
  // The ops CLI: a gRPC client that seals credentials and verifies attestations locally.
  'src/cli': ['src/domain', 'src/config', 'src/crypto', 'src/attestation', 'src/grpc', 'src/storage'],
  // The process entry point: configuration, then the composition root.
  'src/main.ts': ['src/config', 'src/app'],
  // The composition root wires everything.
  'src/app': ['src/domain', 'src/config', 'src/crypto', 'src/exchanges', 'src/pool', 'src/storage', 'src/attestation', 'src/actors', 'src/grpc', 'src/cli'],
  // Venue fakes and harnesses shared by tests, benchmarks and the soak runner.
  testkit: ['src'],
  // Tests may also run the code generator of scripts/ (the generated-code check).
  test: ['src', 'testkit', 'scripts'],
  bench: ['src', 'testkit'],
  scripts: ['src', 'testkit'],
};

/** npm packages and Node built-ins a folder must not import. */
export const forbiddenPackages = {
  'src/domain': {
    packages: ['node:*', 'fs', 'path', 'os', 'crypto', 'worker_threads', 'child_process', 'net', 'http', 'https',
      'nact', 'slonik', 'piscina', '@grpc/*', 'pg', 'ccxt', 'pino', 'prom-client'],
    message: 'src/domain is pure: no Node built-ins and no I/O libraries.',
  },
};

const folders = Object.keys(allowedImports);
const topLevel = (folder) => folder.split('/')[0];

/** True when `from` may import from `to` (a folder of allowedImports). */
export function mayImport(from, to) {
  if (from === to) return true;
  const allowed = allowedImports[from] ?? [];
  return allowed.includes(to) || allowed.includes(topLevel(to));
}

/** Import-path patterns (gitignore style, as no-restricted-imports reads them) that name `folder`. */
function patternsOf(folder) {
  const name = folder.split('/').at(-1);
  return [`**/${name}`, `**/${name}/**`];
}

/** The flat-config blocks: one per folder, listing every folder it must not import. */
export function boundaryLintConfigs() {
  const targets = folders.filter((f) => !f.endsWith('.ts'));
  return folders.map((from) => {
    const forbidden = targets.filter((to) => !mayImport(from, to));
    const patterns = forbidden.map((to) => ({ group: patternsOf(to), message: `${from} may not import ${to} (see boundaries.js).` }));
    const pkgs = forbiddenPackages[from];
    if (pkgs !== undefined) patterns.push({ group: pkgs.packages, message: pkgs.message });
    return {
      files: [from.endsWith('.ts') ? from : `${from}/**/*.ts`],
      rules: { 'no-restricted-imports': ['error', { patterns }] },
    };
  });
}
