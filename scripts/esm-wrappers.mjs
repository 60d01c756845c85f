// Writes dist/index.mjs beside each package's CommonJS build: one module instance for both
// `import` and `require` (no dual-package hazard), with every export named.
import { createRequire } from 'node:module';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const require = createRequire(import.meta.url);
const packagesDir = resolve(import.meta.dirname, '..', 'packages');
for (const name of readdirSync(packagesDir)) {
  const entry = join(packagesDir, name, 'dist', 'index.js');
  if (!existsSync(entry)) continue;
  const names = Object.keys(require(entry)).filter((key) => key !== '__esModule');
  const named = names.filter((key) => key !== 'default');
  const lines = [
    "import cjs from './index.js';",
    ...named.map((key) => `export const ${key} = cjs.${key};`),
    names.includes('default') ? 'export default cjs.default;' : '',
  ];
  writeFileSync(join(packagesDir, name, 'dist', 'index.mjs'), lines.filter(Boolean).join('\n') + '\n');
}
