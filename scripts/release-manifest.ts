// `npm run release-manifest -- [--out FILE] [--stage DIR] [--measurement HEX ...] [--host-config FILE] [--build-hash HEX]`:
// the measured image's file list and the release manifest clients pin (docs/deploy.md).
//
// The image is: the Node runtime, dist/, sql/, package.json + lockfile, the production packages of
// package-lock.json (not "dev"), and the fixed entrypoint and environment of deploy/confidential-vm.
// The manifest lists every image file with its SHA-256, size and executable bit, in path order,
// and a SHA-256 over that list: no timestamps or absolute paths, so the same tree gives the same
// bytes. `--stage DIR` also copies the files to DIR/<image path> for the image build. `npm run
// build` first: dist/ is what ships.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the application lives inside the image. */
export const APP_DIR = 'opt/enclave/app';
export const NODE_PATH = 'opt/enclave/bin/node';

export interface ImageFile {
  /** Path inside the image, relative to its root, with forward slashes. */
  readonly imagePath: string;
  /** Absolute path of the file it is copied from. */
  readonly sourcePath: string;
}

interface LockPackage { readonly dev?: boolean; readonly optional?: boolean }
interface Lockfile { readonly packages: Readonly<Record<string, LockPackage>> }

function walk(dir: string, skip: (path: string) => boolean, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = join(dir, entry.name);
    if (skip(path)) continue;
    if (entry.isDirectory()) walk(path, skip, out);
    else if (entry.isFile()) out.push(path);
    // Symbolic links (package bins) are left out: the entrypoint calls dist/main.js directly.
  }
}

/**
 * Every file of the image, sorted by image path. Production packages are the lockfile's entries
 * without `dev`; a nested package is walked by its own entry, so a dev package nested inside a
 * production one stays out. Optional packages for other platforms are absent and skipped.
 */
export function imageFiles(root: string = REPO_ROOT): ImageFile[] {
  const files: ImageFile[] = [];
  const add = (imagePath: string, sourcePath: string): void => { files.push({ imagePath, sourcePath }); };
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  const packagePaths = Object.keys(lock.packages).filter((path) => path !== '');
  const isPackageDir = new Set(packagePaths.map((path) => join(root, path)));

  add(NODE_PATH, realpathSync(join(root, 'node_modules/.bin/node')));
  add(`${APP_DIR}/package.json`, join(root, 'package.json'));
  add(`${APP_DIR}/package-lock.json`, join(root, 'package-lock.json'));
  add('opt/enclave/bin/enclave-entrypoint', join(root, 'deploy/confidential-vm/entrypoint.sh'));
  add('opt/enclave/enclave.env', join(root, 'deploy/confidential-vm/enclave.env'));
  for (const dir of ['dist', 'sql']) {
    if (!existsSync(join(root, dir))) throw new Error(`${dir}/ is missing (run npm run build first)`);
    const found: string[] = [];
    walk(join(root, dir), () => false, found);
    for (const path of found) add(`${APP_DIR}/${relative(root, path).split('\\').join('/')}`, path);
  }
  for (const path of packagePaths) {
    const info = lock.packages[path]!;
    if (info.dev === true) continue;
    const dir = join(root, path);
    if (!existsSync(dir)) {
      if (info.optional === true) continue;
      throw new Error(`${path} is a production package but is not installed (npm ci first)`);
    }
    const found: string[] = [];
    walk(dir, (p) => (p !== dir && isPackageDir.has(p)) || p.endsWith(`${'/'}node_modules${'/'}.bin`), found);
    for (const file of found) add(`${APP_DIR}/${relative(root, file).split('\\').join('/')}`, file);
  }
  return files.sort((a, b) => (a.imagePath < b.imagePath ? -1 : a.imagePath > b.imagePath ? 1 : 0));
}

export interface ManifestFile {
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly executable: boolean;
}

export interface ReleaseManifest {
  readonly schema: 'track-record-enclave/release-manifest/v1';
  readonly version: string;
  /** SHA-256 over `sha256  path\n` lines of every file (the sha256sum format), in path order. */
  readonly filesSha256: string;
  readonly files: readonly ManifestFile[];
  /** The first of `measurements` (kept for readers of the first format); null until computed. */
  readonly measurement: string | null;
  /**
   * The allow-list clients pin (`enclave add --manifest`): every SEV-SNP launch measurement of
   * this image (48 bytes, hex, from sev-snp-measure), one per launch shape (vCPU count, CPU
   * type, firmware) it is run with. Empty until computed; a client refuses a manifest without one.
   */
  readonly measurements: readonly string[];
  /** HOST_DATA (32 bytes, hex): SHA-256 of the canonical host configuration; null when not bound. */
  readonly hostData: string | null;
  /**
   * The build hash (32 bytes, hex) the image's service reports and binds in REPORT_DATA
   * (`npm run build:hash` on the staged tree); clients refuse a service reporting another. Null when not pinned.
   */
  readonly buildHash: string | null;
}

function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Keys the host configuration may never set (deploy/confidential-vm/entrypoint.sh refuses them too). */
export const FORBIDDEN_HOST_KEYS: readonly string[] = ['ENCRYPTION_KEY', 'ENCRYPTION_KEYS', 'NODE_OPTIONS', 'VENUE_BASE_URLS', 'DEMO', 'ENCLAVE_MODE', 'AMD_SEV_SNP'];

/**
 * The canonical form of a host configuration (KEY=VALUE lines) bound through HOST_DATA: comments
 * and blank lines dropped, lines sorted by key, each ending in a newline. It carries no secret: a
 * forbidden key, a password in DATABASE_URL, a duplicate or a value the entrypoint would refuse
 * is an error, so what is hashed is exactly what the VM will run with.
 */
export function canonicalHostConfig(text: string): string {
  const entries = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Z0-9_]+)=([A-Za-z0-9_./:@%+,=?&-]*)$/u.exec(line);
    if (match === null) throw new Error(`not a KEY=VALUE line with a plain value: ${line.split('=')[0] ?? ''}`);
    const [, key, value] = match as unknown as [string, string, string];
    if (FORBIDDEN_HOST_KEYS.includes(key)) throw new Error(`${key} may not come from the host configuration`);
    if (entries.has(key)) throw new Error(`${key} is set twice`);
    if (key === 'DATABASE_URL' && new URL(value).password !== '') throw new Error('DATABASE_URL must not carry a password: HOST_DATA binds public configuration only');
    entries.set(key, value);
  }
  return [...entries].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, value]) => `${key}=${value}\n`).join('');
}

/** HOST_DATA for a host configuration: SHA-256 of its canonical form, 32 bytes as hex. */
export function hostDataOf(text: string): string {
  return createHash('sha256').update(canonicalHostConfig(text), 'utf8').digest('hex');
}

export function buildManifest(
  files: readonly ImageFile[],
  options: {
    readonly version: string;
    readonly measurement?: string | null;
    readonly measurements?: readonly string[];
    readonly hostData?: string | null;
    readonly buildHash?: string | null;
  },
): ReleaseManifest {
  const entries = files.map((file): ManifestFile => {
    const stat = statSync(file.sourcePath);
    return { path: file.imagePath, sha256: sha256File(file.sourcePath), size: stat.size, executable: (stat.mode & 0o111) !== 0 };
  });
  const listing = entries.map((e) => `${e.sha256}  ${e.path}\n`).join('');
  const measurements = [...new Set([...(options.measurement === undefined || options.measurement === null ? [] : [options.measurement]), ...(options.measurements ?? [])])];
  for (const m of measurements) if (!/^[0-9a-f]{96}$/u.test(m)) throw new Error('the measurement must be 48 bytes of lower-case hex');
  const measurement = measurements[0] ?? null;
  const buildHash = options.buildHash ?? null;
  if (buildHash !== null && !/^[0-9a-f]{64}$/u.test(buildHash)) throw new Error('the build hash must be 32 bytes of lower-case hex');
  return {
    schema: 'track-record-enclave/release-manifest/v1',
    version: options.version,
    filesSha256: createHash('sha256').update(listing, 'utf8').digest('hex'),
    files: entries,
    measurement,
    measurements,
    hostData: options.hostData ?? null,
    buildHash,
  };
}

/** Copies every image file to `stageDir/<image path>`, keeping the executable bit. */
export function stageImage(files: readonly ImageFile[], stageDir: string): void {
  for (const file of files) {
    const target = join(stageDir, file.imagePath);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file.sourcePath, target);
    chmodSync(target, (lstatSync(file.sourcePath).mode & 0o111) !== 0 ? 0o555 : 0o444);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      out: { type: 'string', default: 'release-manifest.json' },
      stage: { type: 'string' },
      measurement: { type: 'string', multiple: true },
      'host-config': { type: 'string' },
      'build-hash': { type: 'string' },
    },
  });
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const files = imageFiles();
  const hostConfig = values['host-config'];
  const hostData = hostConfig === undefined ? null : hostDataOf(readFileSync(hostConfig, 'utf8'));
  const manifest = buildManifest(files, {
    version,
    measurements: (values.measurement ?? []).map((m) => m.toLowerCase()),
    hostData,
    buildHash: values['build-hash']?.toLowerCase() ?? null,
  });
  if (values.stage !== undefined) stageImage(files, values.stage);
  writeFileSync(values.out, `${JSON.stringify(manifest, null, 2)}\n`);
  process.stdout.write(`${values.out}: ${manifest.files.length} files, files sha256 ${manifest.filesSha256}${hostData === null ? '' : `, HOST_DATA ${hostData}`}\n`);
}
