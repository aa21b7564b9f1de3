// Loads exactly what `node dist/main.js` loads before its body runs (main's static imports; the
// service has no dynamic imports), counting every module through an in-thread loader hook, then
// prints one JSON line: module URLs by kind and the native addons (.node) the process mapped.
// Run by scripts/tcb-size.ts as a child process. `--source` loads src/*.ts instead of dist (the
// child must then run with `--import tsx`): test/exchanges/trusted-base.test.ts uses that.
import { registerHooks } from 'node:module';

const loaded = new Set();
registerHooks({
  load(url, context, nextLoad) {
    loaded.add(url);
    return nextLoad(url, context);
  },
});

const source = process.argv.includes('--source');
const dist = new URL(source ? '../src/' : '../dist/', import.meta.url);
for (const entry of ['config/errors', 'config/config', 'config/logger', 'app/demo', 'app/service']) {
  await import(new URL(`${entry}.${source ? 'ts' : 'js'}`, dist).href);
}

const urls = [...loaded];
const ccxtModules = urls.filter((u) => u.includes('/node_modules/ccxt/'));
const addons = (process.report.getReport().sharedObjects ?? []).filter((path) => path.endsWith('.node'));
process.stdout.write(`${JSON.stringify({
  modules: urls.length,
  builtin: urls.filter((u) => u.startsWith('node:')).length,
  own: urls.filter((u) => u.startsWith(dist.href)).length,
  packages: urls.filter((u) => u.includes('/node_modules/')).length,
  ccxt: ccxtModules.length,
  ccxtExchanges: ccxtModules.filter((u) => /\/ccxt\/js\/src\/[a-z0-9]+\.js$/u.test(u)).map((u) => u.replace(/^.*\//u, '').replace(/\.js$/u, '')).sort(),
  ccxtWs: ccxtModules.filter((u) => u.includes('/ccxt/js/src/pro/')).length,
  addons,
})}\n`);
process.exit(0);
