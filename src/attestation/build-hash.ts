// One SHA-256 over a built tree, independent of where it was built and when: files are taken in
// sorted relative-path order and each contributes (path, size, content); timestamps, modes and the
// absolute location never enter the hash.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Relative POSIX paths of every regular file under `root`, sorted by code unit. */
export async function listBuiltFiles(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'));
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * Hex SHA-256 over the tree at `root`. Per file, in sorted path order:
 * u32be(path length) ‖ path (UTF-8) ‖ u64be(content length) ‖ content.
 * The length prefixes make the encoding unambiguous (no two trees give the same byte stream).
 */
export async function computeBuildHash(root: string): Promise<string> {
  const hash = createHash('sha256');
  for (const relative of await listBuiltFiles(root)) {
    const name = Buffer.from(relative, 'utf8');
    const content = await readFile(path.join(root, relative));
    const header = Buffer.alloc(4 + name.length + 8);
    header.writeUInt32BE(name.length, 0);
    name.copy(header, 4);
    header.writeBigUInt64BE(BigInt(content.length), 4 + name.length);
    hash.update(header);
    hash.update(content);
  }
  return hash.digest('hex');
}
