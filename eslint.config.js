// Lint is for what the compiler cannot see: floating promises, and the layering of boundaries.js.
import tseslint from 'typescript-eslint';
import { boundaryLintConfigs } from './boundaries.js';

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
  ...boundaryLintConfigs(),
);
