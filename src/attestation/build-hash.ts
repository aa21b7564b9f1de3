// One SHA-256 over everything that runs, independent of where it was built and when: files are
// taken in sorted path order and each contributes (path, size, content); timestamps, modes and the
// absolute location never enter the hash.
import { createHash } from 'node:crypto';
import { readdir, readFile, realpath } from 'node:fs/promises';
import path from 'node:path';

/** Relative POSIX paths of every regular file under `root`, sorted by code unit. `skip` prunes directories by name. */
export async function listBuiltFiles(root: string, skip: ReadonlySet<string> = new Set()): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .filter((relative) => !relative.split('/').slice(0, -1).some((dir) => skip.has(dir)));
  return files.sort(byCodeUnit);
}

function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Hex SHA-256 over named files, in sorted name order, each as
 * u32be(name length) ‖ name (UTF-8) ‖ u64be(content length) ‖ content.
 * The length prefixes make the encoding unambiguous (no two sets give the same byte stream).
 */
async function hashNamedFiles(files: ReadonlyMap<string, string>): Promise<string> {
  const hash = createHash('sha256');
  const names = [...files.keys()].sort(byCodeUnit);
  // Reads run READ_AHEAD at a time (thousands of small package files); hashing stays in order.
  for (let start = 0; start < names.length; start += READ_AHEAD) {
    const batch = names.slice(start, start + READ_AHEAD);
    const contents = await Promise.all(batch.map(async (name) => await readFile(files.get(name) ?? '')));
    batch.forEach((name, i) => {
      const content = contents[i] ?? Buffer.alloc(0);
      const nameBytes = Buffer.from(name, 'utf8');
      const header = Buffer.alloc(4 + nameBytes.length + 8);
      header.writeUInt32BE(nameBytes.length, 0);
      nameBytes.copy(header, 4);
      header.writeBigUInt64BE(BigInt(content.length), 4 + nameBytes.length);
      hash.update(header);
      hash.update(content);
    });
  }
  return hash.digest('hex');
}

const READ_AHEAD = 64;

/** Hex SHA-256 over the tree at `root` alone (names relative to it). */
export async function computeBuildHash(root: string): Promise<string> {
  const files = new Map<string, string>();
  for (const relative of await listBuiltFiles(root)) files.set(relative, path.join(root, relative));
  return await hashNamedFiles(files);
}

/** Where the parts of a deployed service are. */
export interface TrustedBaseLayout {
  /** Holds package.json, package-lock.json, sql/ and node_modules/. */
  readonly projectRoot: string;
  /** The built JavaScript (normally `<projectRoot>/dist`). */
  readonly distRoot: string;
  /** The Node binary that runs the service (normally `process.execPath`). */
  readonly nodeBinary: string;
}

/** `node_modules/…` paths of the production packages the lockfile lists (dev ones excluded). */
async function productionPackages(projectRoot: string): Promise<string[]> {
  const lock: unknown = JSON.parse(await readFile(path.join(projectRoot, 'package-lock.json'), 'utf8'));
  const packages = typeof lock === 'object' && lock !== null && 'packages' in lock ? lock.packages : undefined;
  if (typeof packages !== 'object' || packages === null) throw new Error('package-lock.json has no packages map');
  return Object.entries(packages)
    .filter(([key, entry]) => key.startsWith('node_modules/') && !(typeof entry === 'object' && entry !== null && 'dev' in entry && entry.dev === true))
    .map(([key]) => key);
}

/**
 * Every file the trusted base is made of, by the name it is hashed under:
 * `dist/…` (the built code), `node_modules/<package>/…` (each production package in the lockfile
 * that is installed here; an optional one for another platform is absent, and its nested
 * node_modules are their own packages), `sql/…` (migrations), `package.json`, `package-lock.json`,
 * and `node` (the runtime binary, symlinks resolved). Dev dependencies are not part of it.
 */
export async function listTrustedBaseFiles(layout: TrustedBaseLayout): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const addTree = async (prefix: string, root: string, skip?: ReadonlySet<string>): Promise<void> => {
    for (const relative of await listBuiltFiles(root, skip)) files.set(`${prefix}/${relative}`, path.join(root, relative));
  };
  await addTree('dist', layout.distRoot);
  await addTree('sql', path.join(layout.projectRoot, 'sql'));
  for (const name of ['package.json', 'package-lock.json']) files.set(name, path.join(layout.projectRoot, name));
  const nested = new Set(['node_modules']);
  for (const pkg of await productionPackages(layout.projectRoot)) {
    const dir = path.join(layout.projectRoot, ...pkg.split('/'));
    try {
      await addTree(pkg, dir, nested);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  files.set('node', await realpath(layout.nodeBinary));
  return files;
}

/** Hex SHA-256 over listTrustedBaseFiles (the encoding of computeBuildHash). */
export async function computeTrustedBaseHash(layout: TrustedBaseLayout): Promise<string> {
  return await hashNamedFiles(await listTrustedBaseFiles(layout));
}
