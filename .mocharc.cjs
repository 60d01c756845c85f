// One mocha run for every package and the cross-package tests; TypeScript through tsx.
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  spec: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
  timeout: 20000,
  'forbid-only': true,
  reporter: 'spec',
  exit: true,
};
