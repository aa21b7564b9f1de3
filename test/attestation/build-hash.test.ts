import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { computeBuildHash, listBuiltFiles } from '../../src/attestation/build-hash.js';
import { resolveBuildHash } from '../../src/attestation/identity.js';

const run = promisify(execFile);
const repo = path.resolve(import.meta.dirname, '../..');
const tsc = path.join(repo, 'node_modules', '.bin', 'tsc');

async function tree(files: Record<string, string>): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'hash-tree-'));
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
  return root;
}

test('two clean builds into different directories hash the same', async (t) => {
  const base = await mkdtemp(path.join(tmpdir(), 'build-hash-'));
  t.teardown(() => rm(base, { recursive: true, force: true }));
  const first = path.join(base, 'one', 'dist');
  const second = path.join(base, 'elsewhere', 'deeper', 'dist');
  // Sequential: two tsc runs at once would starve the shared 2 cores.
  await run(tsc, ['-p', 'tsconfig.build.json', '--outDir', first], { cwd: repo });
  await run(tsc, ['-p', 'tsconfig.build.json', '--outDir', second], { cwd: repo });
  const files = await listBuiltFiles(first);
  t.true(files.includes('attestation/build-hash.js'));
  t.deepEqual(await listBuiltFiles(second), files);
  const hash = await computeBuildHash(first);
  t.regex(hash, /^[0-9a-f]{64}$/u);
  t.is(await computeBuildHash(second), hash);
  // The running service reports the same value for the tree it runs from.
  t.is(await resolveBuildHash(pathToFileURL(path.join(second, 'attestation', 'identity.js')).href), hash);
});

test('the hash ignores timestamps and location but not content or names', async (t) => {
  const a = await tree({ 'x.js': 'one', 'sub/y.js': 'two' });
  const b = await tree({ 'sub/y.js': 'two', 'x.js': 'one' });
  t.teardown(() => Promise.all([a, b].map((dir) => rm(dir, { recursive: true, force: true }))));
  await utimes(path.join(b, 'x.js'), new Date(0), new Date(0));
  const hash = await computeBuildHash(a);
  t.is(await computeBuildHash(b), hash);
  await writeFile(path.join(b, 'x.js'), 'onE');
  t.not(await computeBuildHash(b), hash);
  const renamed = await tree({ 'z.js': 'one', 'sub/y.js': 'two' });
  const shifted = await tree({ 'x.js': 'on', 'sub/y.js': 'etwo' });
  t.teardown(() => Promise.all([renamed, shifted].map((dir) => rm(dir, { recursive: true, force: true }))));
  t.not(await computeBuildHash(renamed), hash);
  t.not(await computeBuildHash(shifted), hash, 'moving bytes between files changes the hash');
});
