// Writes dist/index.mjs beside each package's CommonJS build: one module instance for both
// `import` and `require` (no dual-package hazard), with every export named. And dist/index.d.mts, its
// declarations: without them TypeScript (module nodenext) reads index.d.ts as CommonJS for `import` too, where
// a default import is the whole module, so `import slidegate from '@slidegate/fastify'` would not type-check.
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
  const types = [
    "export * from './index.js';",
    // The CommonJS module's `exports.default`, which is what index.mjs exports as its default.
    ...(names.includes('default') ? ["import type cjs from './index.js';", 'declare const _default: typeof cjs.default;', 'export default _default;'] : []),
  ];
  writeFileSync(join(packagesDir, name, 'dist', 'index.d.mts'), types.join('\n') + '\n');
}
