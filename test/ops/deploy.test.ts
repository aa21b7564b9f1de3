// What of the confidential-VM recipe can be checked here (no SEV-SNP, no container engine): the
// image file list, the release manifest's hashes and reproducibility, HOST_DATA, the entrypoint's
// syntax and the systemd unit of the non-enclave mode.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ensureBuilt } from '../e2e/support.js';
import { pinnedRelease, ReleaseManifestError } from '../../src/cli/seal-for-enclave.js';
import { APP_DIR, buildManifest, canonicalHostConfig, hostDataOf, imageFiles, NODE_PATH, REPO_ROOT } from '../../scripts/release-manifest.js';

interface LockPackage { readonly dev?: boolean }

/** coreutils' sha256sum of a file, or of `input` when no file is given. */
function sha256sum(files: readonly string[], input?: string): string {
  return execFileSync('sha256sum', [...files], { encoding: 'utf8', ...(input === undefined ? {} : { input }) }).slice(0, 64);
}

test.before(async () => {
  await ensureBuilt();
});

test('the image holds the runtime, dist/, sql/, the production packages and the entrypoint, and nothing of development', (t) => {
  const paths = new Set(imageFiles().map((file) => file.imagePath));
  for (const path of [NODE_PATH, `${APP_DIR}/dist/main.js`, `${APP_DIR}/dist/pool/aggregation.worker.js`, `${APP_DIR}/package.json`, `${APP_DIR}/package-lock.json`,
    'opt/enclave/bin/enclave-entrypoint', 'opt/enclave/enclave.env']) t.true(paths.has(path), path);
  // Every SQL file, the optional ones (sql/optional/) included.
  for (const migration of readdirSync(join(REPO_ROOT, 'sql'), { recursive: true }).map(String).filter((f) => f.endsWith('.sql'))) t.true(paths.has(`${APP_DIR}/sql/${migration}`), migration);
  for (const name of ['prom-client', 'slonik', 'nact', '@grpc/grpc-js', 'piscina', 'ccxt']) t.true(paths.has(`${APP_DIR}/node_modules/${name}/package.json`), name);
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockPackage> };
  const devPrefixes = Object.entries(lock.packages).filter(([, info]) => info.dev === true).map(([path]) => `${APP_DIR}/${path}/`);
  const leaked = [...paths].filter((path) => devPrefixes.some((prefix) => path.startsWith(prefix)) || /\/(src|test|bench)\//u.test(path.slice(APP_DIR.length, APP_DIR.length + 7)));
  t.deepEqual(leaked, [], 'no development package, source or test file');
  t.true(devPrefixes.includes(`${APP_DIR}/node_modules/typescript/`), 'the check knows the dev packages');
});

test('the release manifest is reproducible and its hashes are the files\' SHA-256', (t) => {
  const files = imageFiles();
  const first = JSON.stringify(buildManifest(files, { version: '0.1.0' }));
  const second = JSON.stringify(buildManifest(imageFiles(), { version: '0.1.0' }));
  t.is(first, second, 'the same tree gives the same bytes');
  const manifest = JSON.parse(first) as ReturnType<typeof buildManifest>;
  t.is(manifest.files.length, files.length);
  const byPath = new Map(files.map((file) => [file.imagePath, file.sourcePath]));
  // Checked with coreutils' sha256sum, independently of the script's own hashing.
  for (const entry of manifest.files.filter((f) => f.path === NODE_PATH || f.path.endsWith('/dist/main.js') || f.path.endsWith('/sql/001_roles.sql'))) {
    t.is(entry.sha256, sha256sum([byPath.get(entry.path)!]), entry.path);
  }
  const listing = manifest.files.map((f) => `${f.sha256}  ${f.path}\n`).join('');
  t.is(manifest.filesSha256, sha256sum([], listing));
  t.true(manifest.files.find((f) => f.path === NODE_PATH)?.executable, 'the runtime is executable');
  t.is(manifest.measurement, null, 'the measurement comes from sev-snp-measure, never invented');
  t.deepEqual(manifest.measurements, []);
  t.throws(() => buildManifest([], { version: '0.1.0', measurement: 'abc' }), { message: /48 bytes/u });
});

test('the manifest lists every launch measurement, and enclave add pins exactly those (a manifest without one pins nothing and is refused)', (t) => {
  const [a, b] = ['ab'.repeat(48), 'cd'.repeat(48)];
  const manifest = buildManifest([], { version: '0.1.0', measurements: [a, b, a], hostData: '11'.repeat(32) });
  t.deepEqual(manifest.measurements, [a, b]);
  t.is(manifest.measurement, a);
  const pinned = pinnedRelease(JSON.stringify(manifest));
  t.deepEqual(pinned.measurements.map((m) => m.toString('hex')), [a, b]);
  t.is(pinned.hostData?.toString('hex'), '11'.repeat(32));
  // The first format (one `measurement`, no list) still pins.
  const { measurements: _dropped, ...older } = manifest;
  t.deepEqual(pinnedRelease(JSON.stringify({ ...older, measurement: b })).measurements.map((m) => m.toString('hex')), [b]);
  t.throws(() => pinnedRelease(JSON.stringify(buildManifest([], { version: '0.1.0' }))), { instanceOf: ReleaseManifestError, message: /no launch measurement/u });
  t.throws(() => pinnedRelease('{"schema":"other"}'), { instanceOf: ReleaseManifestError });
});

test('HOST_DATA is the SHA-256 of the canonical host configuration, which refuses secrets and code', (t) => {
  const a = 'METRICS_PORT=9464\n# comment\nDATABASE_URL=postgresql://enclave_user@db:5432/tr?sslmode=verify-full\n';
  const b = '\nDATABASE_URL=postgresql://enclave_user@db:5432/tr?sslmode=verify-full\nMETRICS_PORT=9464';
  t.is(canonicalHostConfig(a), 'DATABASE_URL=postgresql://enclave_user@db:5432/tr?sslmode=verify-full\nMETRICS_PORT=9464\n');
  t.is(hostDataOf(a), hostDataOf(b), 'order, comments and blank lines do not matter');
  t.regex(hostDataOf(a), /^[0-9a-f]{64}$/u);
  t.not(hostDataOf(a), hostDataOf('METRICS_PORT=9465\nDATABASE_URL=postgresql://enclave_user@db:5432/tr?sslmode=verify-full\n'));
  t.throws(() => canonicalHostConfig(`ENCRYPTION_KEY=${'ab'.repeat(32)}`), { message: /ENCRYPTION_KEY may not come/u });
  t.throws(() => canonicalHostConfig('NODE_OPTIONS=--require=/tmp/x.js'), { message: /NODE_OPTIONS may not come/u });
  t.throws(() => canonicalHostConfig('DATABASE_URL=postgresql://u:secret@db/tr'), { message: /password/u });
  t.throws(() => canonicalHostConfig('LOG_LEVEL=$(id)'), { message: /plain value/u });
  t.throws(() => canonicalHostConfig('LOG_LEVEL=info\nLOG_LEVEL=debug'), { message: /twice/u });
  t.notThrows(() => canonicalHostConfig(readFileSync(join(REPO_ROOT, 'deploy/confidential-vm/host-config.example.env'), 'utf8')));
});

test('the entrypoint is valid POSIX shell', (t) => {
  const result = spawnSync('sh', ['-n', join(REPO_ROOT, 'deploy/confidential-vm/entrypoint.sh')], { encoding: 'utf8' });
  t.is(result.status, 0, result.stderr);
});

test('systemd-analyze verify accepts the unit of the non-enclave mode', (t) => {
  if (spawnSync('systemd-analyze', ['--version'], { stdio: 'ignore' }).status !== 0) {
    t.log('systemd-analyze is not installed: deploy/systemd/enclave-worker.service is NOT verified here');
    t.pass();
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'unit-'));
  try {
    // The unit names the installed runtime; verify checks that ExecStart exists, so point it at ours.
    const unit = readFileSync(join(REPO_ROOT, 'deploy/systemd/enclave-worker.service'), 'utf8').replaceAll('/opt/enclave/bin/node', process.execPath);
    writeFileSync(join(dir, 'enclave-worker.service'), unit);
    const result = spawnSync('systemd-analyze', ['verify', join(dir, 'enclave-worker.service')], { encoding: 'utf8' });
    t.is(result.status, 0, `${result.stdout}${result.stderr}`);
    t.is(`${result.stdout}${result.stderr}`.trim(), '', 'no warning');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
