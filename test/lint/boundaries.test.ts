// The layering of boundaries.js is enforced: lint (with the rules eslint.config.js generates from it)
// refuses every forbidden import in every folder, and lets every allowed one through.
import test from 'ava';
import { Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import { allowedImports, boundaryLintConfigs, mayImport } from '../../boundaries.js';

const folders = Object.keys(allowedImports);
const targets = folders.filter((f) => !f.endsWith('.ts'));

const linter = new Linter({ configType: 'flat' });
const config = [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...boundaryLintConfigs()];

/** A file that imports one module of `to`, seen from a file placed in `from`. */
function probe(from: string, to: string): Linter.LintMessage[] {
  const dir = from.endsWith('.ts') ? from.split('/').slice(0, -1).join('/') : `${from}/nested`;
  const depth = dir.split('/').length;
  const spec = `${'../'.repeat(depth)}${to}/${to === 'src' ? 'domain/' : ''}module.js`;
  const filename = from.endsWith('.ts') ? from : `${dir}/probe.ts`;
  return linter.verify(`import { x } from '${spec}';\nexport const y = x;\n`, config, { filename });
}

test('every forbidden import between folders fails lint, naming the rule file', (t) => {
  let forbidden = 0;
  for (const from of folders) {
    for (const to of targets) {
      if (mayImport(from, to)) continue;
      forbidden += 1;
      const messages = probe(from, to);
      t.true(messages.some((m) => m.ruleId === 'no-restricted-imports' && m.message.includes('boundaries.js')), `${from} → ${to} should fail lint`);
    }
  }
  // The layering forbids far more than it allows; a generator that emitted nothing would pass above.
  t.true(forbidden > 50, `only ${forbidden} forbidden edges checked`);
});

test('every allowed import between folders passes lint', (t) => {
  for (const from of folders) {
    for (const to of targets) {
      if (!mayImport(from, to) || to === 'src') continue;
      t.deepEqual(probe(from, to).map((m) => m.message), [], `${from} → ${to} should pass lint`);
    }
  }
});

test('the domain may import no Node built-in and no I/O library', (t) => {
  for (const pkg of ['node:fs', 'pg', 'slonik', 'nact', '@grpc/grpc-js']) {
    const messages = linter.verify(`import * as m from '${pkg}';\nexport const y = m;\n`, config, { filename: 'src/domain/probe.ts' });
    t.true(messages.some((m) => m.ruleId === 'no-restricted-imports'), pkg);
  }
  t.deepEqual(linter.verify(`import { z } from 'zod';\nexport const y = z;\n`, config, { filename: 'src/config/probe.ts' }), []);
});

test('bench and scripts may not import the tests (shared fakes live in testkit/)', (t) => {
  t.false(mayImport('bench', 'test'));
  t.false(mayImport('scripts', 'test'));
  t.true(probe('bench', 'test').some((m) => m.ruleId === 'no-restricted-imports'));
});
