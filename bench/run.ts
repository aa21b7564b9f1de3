// `npm run bench -- <name>` runs bench/<name>.ts. Each benchmark prints one JSON line last.
import { readdirSync } from 'node:fs';

const name = process.argv[2];
const available = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.ts') && f !== 'run.ts')
  .map((f) => f.slice(0, -3));
if (name === undefined || !available.includes(name)) {
  console.error(`usage: npm run bench -- <${available.join('|')}>`);
  process.exit(2);
}
process.argv.splice(2, 1);
await import(new URL(`./${name}.ts`, import.meta.url).href);
