import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

// Loads the BUILT packages (dist/, through each package.json's `exports`) in fresh Node processes
// started at the repo root, as a user's project would: once with `require`, once with `import`.
// Run `npm run build` first (`npm test` does).

const repoRoot = resolve(__dirname, '..', '..', '..');

interface Built {
  name: string;
  dir: string;
}

/** Every public package whose dist/index.js exists. */
function builtPackages(): Built[] {
  const packagesDir = join(repoRoot, 'packages');
  return readdirSync(packagesDir)
    .map((dir) => join(packagesDir, dir))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, json: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name: string; private?: boolean } }))
    .filter(({ dir, json }) => json.private !== true && existsSync(join(dir, 'dist', 'index.js')))
    .map(({ dir, json }) => ({ name: json.name, dir }));
}

function runNode(args: string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(process.execPath, args, { cwd: repoRoot, timeout: 15_000, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      if (error) reject(new Error(`node ${args.slice(0, -1).join(' ')} failed: ${error.message}\n${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

/** The same scenario in both module systems: limit 2 per 10 s (1 ms buckets), three requests at one second. */
const SCENARIO = `
  const limiter = new RateLimiter({ limit: 2, windowSeconds: 10, bucketMs: 1 });
  const allowed = [];
  for (let i = 0; i < 3; i++) allowed.push(await limiter.isAllowed('client', 1700000000));
  const decision = await limiter.check('client', { timestamp: 1700000005 });
  await limiter.close();
  let badInput = '';
  try { new RateLimiter({ limit: -1, windowSeconds: 10 }); } catch (e) { badInput = e.constructor.name + ' ' + e.code; }
`;

describe('import: the built packages load with require and with import', function () {
  this.timeout(30_000);
  const packages = builtPackages();
  const names = packages.map((p) => p.name);

  before(function () {
    if (!names.includes('@slidegate/core')) {
      throw new Error('packages/core/dist/index.js is missing: run `npm run build` first (npm test does it)');
    }
  });

  it(`finds @slidegate/core among the built packages (${names.join(', ')}), so this can never pass vacuously`, () => {
    expect(names).to.include('@slidegate/core');
    for (const p of packages) {
      expect(existsSync(join(p.dir, 'dist', 'index.mjs')), `${p.name}: dist/index.mjs`).to.equal(true);
      expect(existsSync(join(p.dir, 'dist', 'index.d.ts')), `${p.name}: dist/index.d.ts`).to.equal(true);
    }
  });

  it('require: @slidegate/core works from CommonJS', async () => {
    const out = await runNode([
      '-e',
      `const { RateLimiter, MemoryStore } = require('@slidegate/core');
       (async () => { ${SCENARIO}
         console.log(JSON.stringify({ allowed, decision, badInput, store: typeof MemoryStore, file: require.resolve('@slidegate/core') }));
       })().catch((e) => { console.error(e); process.exit(1); });`,
    ]);
    const result = JSON.parse(out) as { allowed: boolean[]; decision: Record<string, unknown>; badInput: string; store: string; file: string };
    expect(result.allowed).to.deep.equal([true, true, false]);
    expect(result.decision).to.include({ allowed: false, remaining: 0, retryAfter: 5, resetAfter: 5, timestamp: 1700000005, source: 'store' });
    expect(result.badInput).to.equal('RangeError ERR_SLIDEGATE_INVALID_OPTION');
    expect(result.store).to.equal('function');
    expect(result.file).to.equal(join(repoRoot, 'packages', 'core', 'dist', 'index.js'));
  });

  it('import: @slidegate/core works from an ES module', async () => {
    const out = await runNode([
      '--input-type=module',
      '-e',
      `import { RateLimiter, MemoryStore } from '@slidegate/core';
       ${SCENARIO}
       console.log(JSON.stringify({ allowed, decision, badInput, store: typeof MemoryStore, url: import.meta.resolve('@slidegate/core') }));`,
    ]);
    const result = JSON.parse(out) as { allowed: boolean[]; decision: Record<string, unknown>; badInput: string; store: string; url: string };
    expect(result.allowed).to.deep.equal([true, true, false]);
    expect(result.decision).to.include({ allowed: false, remaining: 0, retryAfter: 5, resetAfter: 5, timestamp: 1700000005, source: 'store' });
    expect(result.badInput).to.equal('RangeError ERR_SLIDEGATE_INVALID_OPTION');
    expect(result.store).to.equal('function');
    expect(result.url).to.match(/\/packages\/core\/dist\/index\.mjs$/);
  });

  it('every built package: import and require give the very same exports (one module instance, no dual-package hazard)', async () => {
    const out = await runNode([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module';
       const require = createRequire(process.cwd() + '/');
       const report = {};
       for (const name of ${JSON.stringify(names)}) {
         const esm = await import(name);
         const cjs = require(name);
         const esmNames = Object.keys(esm).filter((k) => k !== 'default').sort();
         const cjsNames = Object.keys(cjs).filter((k) => k !== '__esModule' && k !== 'default').sort();
         report[name] = {
           esmNames, cjsNames,
           different: esmNames.filter((k) => esm[k] !== cjs[k]),
           // One copy of core in the tree: every package resolves the root's @slidegate/core.
           core: require.resolve('@slidegate/core', { paths: [require.resolve(name)] }),
         };
       }
       report.rootCore = require.resolve('@slidegate/core');
       console.log(JSON.stringify(report));`,
    ]);
    const report = JSON.parse(out) as Record<string, { esmNames: string[]; cjsNames: string[]; different: string[]; core: string }> & { rootCore: string };
    for (const name of names) {
      const entry = report[name];
      expect(entry, name).to.not.equal(undefined);
      if (entry === undefined) continue;
      expect(entry.esmNames.length, `${name} exports something`).to.be.greaterThan(0);
      expect(entry.esmNames, `${name}: import and require export the same names`).to.deep.equal(entry.cjsNames);
      expect(entry.different, `${name}: exports that differ between import and require`).to.deep.equal([]);
      expect(entry.core, `${name} resolves the same @slidegate/core`).to.equal(report.rootCore);
    }
    expect(report['@slidegate/core']?.esmNames).to.include.members(['RateLimiter', 'MemoryStore', 'ErrorCodes']);
  });

  it('ioredis loads only when slidegate makes a Redis client: every adapter deciding on the memory store never loads it', async () => {
    // Loading ioredis at startup costs every request of a Fastify server on Node 20 (issue 5's notes).
    const out = await runNode([
      '-e',
      `const loaded = () => Object.keys(require.cache).some((file) => /[\\/]node_modules[\\/]ioredis[\\/]/.test(file));
       const { RateLimiter, RedisStore } = require('@slidegate/core');
       require('@slidegate/express'); require('@slidegate/koa'); require('@slidegate/fastify');
       const limiter = new RateLimiter({ limit: 2, windowSeconds: 10 });
       const decision = limiter.tryCheckSync('client');
       const afterMemory = loaded();
       // lazyConnect: the client is made (so ioredis is loaded) but never dials.
       const store = RedisStore.fromUrl('redis://127.0.0.1:1', { redisOptions: { lazyConnect: true } });
       const afterFromUrl = loaded();
       store.close().finally(() => console.log(JSON.stringify({ allowed: decision.allowed, afterMemory, afterFromUrl })));`,
    ]);
    expect(JSON.parse(out)).to.deep.equal({ allowed: true, afterMemory: false, afterFromUrl: true });
  });
});
