// Lint is for what the compiler cannot see: floating promises, and the purity of src/domain.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'src/grpc/generated/**', '.data/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: { parser: tseslint.parser, parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  {
    // The domain is pure: no Node built-ins, no I/O libraries, nothing from the outer layers.
    files: ['src/domain/**/*.ts'],
    ignores: ['src/domain/**/*.worker.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'os', 'crypto', 'worker_threads', 'child_process', 'net', 'http', 'https'], message: 'src/domain is pure: no Node built-ins.' },
          { group: ['nact', 'slonik', 'piscina', '@grpc/*', 'pg', 'ccxt', 'pino', 'prom-client'], message: 'src/domain is pure: no I/O libraries.' },
          { group: ['**/actors/**', '**/grpc/**', '**/storage/**', '**/exchanges/**', '**/crypto/**', '**/config/**'], message: 'src/domain depends on nothing else in src/.' },
        ],
      }],
    },
  },
);
