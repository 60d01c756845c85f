import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';

// Loads the built package (dist/) the way users do, with import and with require: run `npm run build` first.
describe('@slidegate/nestjs loads from dist with import and require', () => {
  const check = "typeof m.SlidegateModule?.forRoot === 'function' && typeof m.SlidegateGuard === 'function' && typeof m.RateLimit === 'function' && typeof m.SkipRateLimit === 'function'";
  for (const [how, source] of [
    ['import', `import * as m from '@slidegate/nestjs'; if (!(${check})) throw new Error('bad exports: ' + Object.keys(m));`],
    ['require', `const m = require('@slidegate/nestjs'); if (!(${check})) throw new Error('bad exports: ' + Object.keys(m));`],
  ] as const) {
    it(how, () => {
      const args = how === 'import' ? ['--input-type=module', '-e', source] : ['-e', source];
      expect(() => execFileSync(process.execPath, args, { cwd: resolve(__dirname, '..'), stdio: 'pipe', timeout: 10_000 })).to.not.throw();
    });
  }
});
