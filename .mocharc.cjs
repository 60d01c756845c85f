// TypeScript through tsx. The spec list lives in the root `test` script, so `npx mocha <file>` runs just that file.
// tsx reads its compiler options from tsconfig.tsx.json (legacy decorators for Nest); see that file.
process.env.TSX_TSCONFIG_PATH ??= require('node:path').join(__dirname, 'tsconfig.tsx.json');
module.exports = {
  'node-option': ['import=tsx'],
  extension: ['ts'],
  timeout: 20000,
  'forbid-only': true,
  reporter: 'spec',
  exit: true,
};
