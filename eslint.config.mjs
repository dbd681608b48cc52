// Lint configuration: typescript-eslint with type-aware rules (recommended-type-checked).
// `npm run lint`; `npm test` runs it before tap. Every rule turned down here says why.
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A leading underscore marks a parameter a plugin interface requires but this one does not
      // use (setup(next, _log)); `const { id: _id, ...rest }` drops a field on purpose.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // tap's t.test() returns a promise that tap itself awaits (subtests run in order and
          // a rejected subtest fails the run); awaiting each one by hand would add nothing.
          allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test-built', name: ['test', 'todo', 'skip', 'only'] }],
        },
      ],
    },
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.test.ts'],
    rules: {
      // tap subtests are written `async (t) => {...}` uniformly so that adding an await later
      // needs no signature change; an async callback without await is harmless there.
      '@typescript-eslint/require-await': 'off',
      // Tests catch errors (`.catch((e) => e)`) and parse JSON output, then assert on fields of
      // the untyped value; the assertion is the check, a cast first would only repeat it.
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Assertion messages print whatever value arrived (unknown included): that is their point.
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  { files: ['**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
