import test from 'ava';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from '../../scripts/proto.js';

const committed = fileURLToPath(new URL('../../src/grpc/generated', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => statSync(join(dir, f)).isFile())
    .sort();
}

test('the committed generated code is exactly what `npm run proto` produces', (t) => {
  const fresh = mkdtempSync(join(tmpdir(), 'grpc-generated-'));
  t.teardown(() => rmSync(fresh, { recursive: true, force: true }));
  generate(fresh);
  const expected = files(fresh);
  t.deepEqual(files(committed), expected, 'file list differs: run `npm run proto` and commit');
  for (const file of expected) {
    const same = readFileSync(join(fresh, file)).equals(readFileSync(join(committed, file)));
    t.true(same, `${relative(process.cwd(), join(committed, file))} is stale: run \`npm run proto\` and commit`);
  }
});

test('generated relative imports carry the .js suffix that NodeNext ESM needs', (t) => {
  const relativeImports = files(committed)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) => [...readFileSync(join(committed, f), 'utf8').matchAll(/from "(\.{1,2}\/[^"]+)"/gu)].map((m) => m[1]!));
  for (const specifier of relativeImports) t.true(specifier.endsWith('.js'), specifier);
  t.pass();
});
