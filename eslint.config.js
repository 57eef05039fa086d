// ESLint: typescript-eslint's recommended rules, and the dependency rule of the workspace packages:
// proto ← device-agent ← coordinator ← sim. A package imports another only through its index
// ('@edgerelay/<name>'), never by a relative path into it or a deep path.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const PACKAGES = ['proto', 'device-agent', 'coordinator', 'sim'];

/** Imports a file of package `pkg` may not make: packages above it, and any other package by path. */
function boundaries(pkg) {
  const above = PACKAGES.slice(PACKAGES.indexOf(pkg) + 1);
  const others = PACKAGES.filter((p) => p !== pkg);
  return {
    files: [`${pkg}/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...above.map((p) => ({
              group: [`@edgerelay/${p}`, `@edgerelay/${p}/*`],
              message: `${pkg} may not depend on ${p}: dependencies point proto ← device-agent ← coordinator ← sim.`,
            })),
            {
              regex: `^(\\.\\./)+(${others.join('|')})(/|$)`,
              message: 'Import another package through its index (@edgerelay/<name>), not by path.',
            },
            {
              regex: '^@edgerelay/[^/]+/(?!cli$|main$).+',
              message: 'Import a package through its index (@edgerelay/<name>) only.',
            },
          ],
        },
      ],
    },
  };
}

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'proto/generated/**', 'proto/messages.ts', 'docs/**', 'models/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // `_name` marks a deliberately unused binding (destructuring a field away, a required parameter).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // A callback defined before the object it calls exists (a server's handler naming the server).
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  {
    // Tests read HTTP answers as untyped JSON and check them with assertions.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The bin scripts are plain Node scripts.
    files: ['bin/*.js'],
    languageOptions: { globals: { process: 'readonly' } },
  },
  ...PACKAGES.map(boundaries),
);
