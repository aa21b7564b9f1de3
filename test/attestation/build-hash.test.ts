import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { computeBuildHash, computeTrustedBaseHash, listBuiltFiles, listTrustedBaseFiles, type TrustedBaseLayout } from '../../src/attestation/build-hash.js';
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
  // The same project around each build: the trusted-base hashes agree too, and the running
  // service reports the value the CLI computes for the project it runs from.
  const project = async (dist: string): Promise<TrustedBaseLayout> => {
    const root = path.dirname(dist);
    await writeProject(root, { 'node_modules/tiny/index.js': 'export {}' });
    return { projectRoot: root, distRoot: dist, nodeBinary: process.execPath };
  };
  const [one, two] = [await project(first), await project(second)];
  const baseHash = await computeTrustedBaseHash(one);
  t.is(await computeTrustedBaseHash(two), baseHash);
  t.not(baseHash, hash);
  t.is(await resolveBuildHash(pathToFileURL(path.join(second, 'attestation', 'identity.js')).href, process.execPath), baseHash);
});

/** A project around a build: package.json, a lockfile with one production and one dev package, sql/. */
async function writeProject(root: string, extra: Record<string, string> = {}): Promise<void> {
  const lock = {
    name: 'p', lockfileVersion: 3, requires: true,
    packages: { '': { name: 'p' }, 'node_modules/tiny': { version: '1.0.0' }, 'node_modules/devonly': { version: '1.0.0', dev: true } },
  };
  const files: Record<string, string> = {
    'package.json': '{"name":"p"}', 'package-lock.json': JSON.stringify(lock), 'sql/001_init.sql': 'select 1;', ...extra,
  };
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), content);
  }
}

test('the trusted-base hash covers dist, production packages, sql, package.json, the lockfile and the Node binary, not dev packages', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'trusted-base-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  await writeProject(root, {
    'dist/main.js': 'run()', 'node_modules/tiny/index.js': 'export {}', 'node_modules/tiny/node_modules/inner/x.js': 'nested, not in the lock',
    'node_modules/devonly/index.js': 'dev', 'bin/node': 'ELF v24',
  });
  await mkdir(path.join(root, 'node_modules/.bin'), { recursive: true });
  await symlink('../tiny/index.js', path.join(root, 'node_modules/.bin/tiny'));
  await symlink(path.join(root, 'bin/node'), path.join(root, 'node-link'));
  const layout: TrustedBaseLayout = { projectRoot: root, distRoot: path.join(root, 'dist'), nodeBinary: path.join(root, 'node-link') };
  const names = [...(await listTrustedBaseFiles(layout)).keys()].sort();
  t.deepEqual(names, ['dist/main.js', 'node', 'node_modules/tiny/index.js', 'package-lock.json', 'package.json', 'sql/001_init.sql']);
  const hash = await computeTrustedBaseHash(layout);
  // Moved elsewhere: the same hash.
  const moved = await mkdtemp(path.join(tmpdir(), 'trusted-base-moved-'));
  t.teardown(() => rm(moved, { recursive: true, force: true }));
  await cp(root, moved, { recursive: true, verbatimSymlinks: true });
  t.is(await computeTrustedBaseHash({ projectRoot: moved, distRoot: path.join(moved, 'dist'), nodeBinary: path.join(root, 'node-link') }), hash);
  // A dev package is not part of it; every other part is.
  await writeFile(path.join(moved, 'node_modules/devonly/index.js'), 'changed');
  t.is(await computeTrustedBaseHash({ projectRoot: moved, distRoot: path.join(moved, 'dist'), nodeBinary: path.join(root, 'node-link') }), hash);
  for (const [file, content] of [['dist/main.js', 'run();'], ['node_modules/tiny/index.js', 'export { x }'], ['sql/001_init.sql', 'select 2;'], ['package.json', '{"name":"q"}'], ['bin/node', 'ELF v25']] as const) {
    const copy = await mkdtemp(path.join(tmpdir(), 'trusted-base-edit-'));
    t.teardown(() => rm(copy, { recursive: true, force: true }));
    await cp(root, copy, { recursive: true, verbatimSymlinks: true });
    await writeFile(path.join(copy, file), content);
    const edited = { projectRoot: copy, distRoot: path.join(copy, 'dist'), nodeBinary: path.join(copy, 'bin/node') };
    t.not(await computeTrustedBaseHash(edited), hash, `${file} is covered`);
  }
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
