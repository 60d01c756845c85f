// TypeScript through tsx. The spec list lives in the root `test` script, so `npx mocha <file>` runs just that file.
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  timeout: 20000,
  'forbid-only': true,
  reporter: 'spec',
  exit: true,
};
