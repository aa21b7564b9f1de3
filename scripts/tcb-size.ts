// `npm run tcb`: the size of the trusted base, as README's "Trusted base" section reports it.
// Own lines: non-blank lines of src/ (TypeScript, generated gRPC code counted apart) and sql/.
// Packages: production packages of package-lock.json installed here (dev ones excluded).
// Modules at start: every module (ours, packages', Node's built-ins) that `node dist/main.js` loads
// before its body runs, counted by an in-thread loader hook (scripts/start-graph.mjs); also the
// native addons (.node) mapped into that process (process.report sharedObjects).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');

async function nonBlankLines(dir: string, keep: (file: string) => boolean): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path.join(root, dir), { recursive: true, withFileTypes: true })) {
    const file = path.join(entry.parentPath, entry.name);
    if (!entry.isFile() || !keep(path.relative(root, file))) continue;
    total += (await readFile(file, 'utf8')).split('\n').filter((line) => line.trim() !== '').length;
  }
  return total;
}

function productionPackages(): { listed: number; installed: number } {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const prod = Object.entries(lock.packages).filter(([key, entry]) => key.startsWith('node_modules/') && entry.dev !== true).map(([key]) => key);
  return { listed: prod.length, installed: prod.filter((key) => existsSync(path.join(root, key))).length };
}

const generated = (file: string): boolean => file.startsWith(path.join('src', 'grpc', 'generated'));
const own = await nonBlankLines('src', (f) => f.endsWith('.ts') && !generated(f));
const gen = await nonBlankLines('src', (f) => f.endsWith('.ts') && generated(f));
const sql = await nonBlankLines('sql', (f) => f.endsWith('.sql'));
const packages = productionPackages();

execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
const graph = JSON.parse(execFileSync(process.execPath, [path.join(root, 'scripts/start-graph.mjs')], { cwd: root, encoding: 'utf8' })) as {
  modules: number; builtin: number; own: number; packages: number; ccxt: number; ccxtExchanges: string[]; ccxtWs: number; addons: string[];
};

const rows: [string, string][] = [
  ['own lines (src/*.ts, non-blank, without generated)', String(own)],
  ['generated gRPC code lines (src/grpc/generated)', String(gen)],
  ['SQL migration lines (sql/)', String(sql)],
  ['production packages (installed / in lockfile)', `${packages.installed} / ${packages.listed}`],
  ['modules loaded at start (total)', String(graph.modules)],
  ['  ours / packages / Node built-ins', `${graph.own} / ${graph.packages} / ${graph.builtin}`],
  ['  of which ccxt (exchanges loaded)', `${graph.ccxt} (${graph.ccxtExchanges.join(', ')}; websocket modules: ${graph.ccxtWs})`],
  ['native addons loaded at start', graph.addons.length === 0 ? 'none' : graph.addons.map((a) => path.relative(root, a)).join(', ')],
  ['Node', process.version],
];
const width = Math.max(...rows.map(([k]) => k.length));
for (const [key, value] of rows) process.stdout.write(`${key.padEnd(width)}  ${value}\n`);
