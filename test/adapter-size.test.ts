import { expect } from 'chai';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { adapterLines, codeLines } from '../scripts/adapter-lines.mjs';

// Adapters stay thin: they read the request for core's HttpLimiter and write its outcome as the framework's
// response; what several adapters need lives once, in core's HTTP layer (packages/core/src/http).
const BUDGET = 150;
// @slidegate/express (with its express-rate-limit Store, slidegate-store.ts) and @slidegate/fastify (with
// @fastify/rate-limit's route config, hooks and decorators) are above it: `node scripts/adapter-lines.mjs`.
const THIN = ['koa', 'hono', 'nestjs'];

describe('adapter size', () => {
  it('counts the lines that hold code: not blank lines, not comments', () => {
    expect(codeLines('// a\n/** b\n * c */\nconst x = 1; // d\n\nconst y = `\n\n`;\n')).to.equal(4);
  });

  for (const adapter of THIN) {
    it(`@slidegate/${adapter} has at most ${BUDGET} lines of its own code`, () => {
      const { total, files } = adapterLines(adapter) as { total: number; files: Array<{ file: string; lines: number }> };
      expect(total, files.map((f) => `${f.file} ${f.lines}`).join(', ')).to.be.at.most(BUDGET);
    });
  }
});
