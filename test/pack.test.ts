import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startRedis, type RedisServer } from '@slidegate/test-utils';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { ourTscErrors } from './support/tsc-errors.mjs';

// What a user gets from npm: each public package packed as a tarball, installed into a new app outside this
// repository (no workspace links), with ioredis 6 and fastify-plugin 6 as npm picks them for a new install and
// without prom-client (an optional peer). The three frameworks' programs run as ES modules and as CommonJS,
// and a TypeScript app type-checks with --strict and without skipLibCheck.

const ROOT = path.resolve(__dirname, '..');
const NPM_ENV = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = NPM_ENV, timeout = 180_000): Promise<Result> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

interface Public {
  name: string;
  dir: string;
}

function publicPackages(): Public[] {
  return readdirSync(path.join(ROOT, 'packages'))
    .map((dir) => path.join(ROOT, 'packages', dir))
    .filter((dir) => existsSync(path.join(dir, 'package.json')))
    .map((dir) => ({ dir, json: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name: string; private?: boolean } }))
    .filter(({ json }) => json.private !== true)
    .map(({ dir, json }) => ({ name: json.name, dir }));
}

/** One program per framework: serve one request on a free port, check it was limited-and-allowed, exit. */
const PROGRAMS: Record<string, { esm: string; cjs: string }> = {
  express: {
    esm: "import express from 'express';\nimport { rateLimit } from '@slidegate/express';",
    cjs: "const express = require('express');\nconst { rateLimit } = require('@slidegate/express');",
  },
  koa: {
    esm: "import Koa from 'koa';\nimport { rateLimit } from '@slidegate/koa';",
    cjs: "const Koa = require('koa');\nconst { rateLimit } = require('@slidegate/koa');",
  },
  fastify: {
    esm: "import Fastify from 'fastify';\nimport slidegate from '@slidegate/fastify';",
    cjs: "const Fastify = require('fastify');\nconst slidegate = require('@slidegate/fastify');",
  },
};

const BODY: Record<string, string> = {
  express: `const app = express();
app.use(rateLimit({ limit: 1, windowSeconds: 60, store, limiterOptions }));
app.get('/', (req, res) => { res.send('hello'); });
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.on('listening', resolve));
const url = 'http://127.0.0.1:' + server.address().port + '/';
const close = () => new Promise((resolve) => server.close(resolve));`,
  koa: `const app = new Koa();
app.use(rateLimit({ limit: 1, windowSeconds: 60, store, limiterOptions }));
app.use((ctx) => { ctx.body = 'hello'; });
const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.on('listening', resolve));
const url = 'http://127.0.0.1:' + server.address().port + '/';
const close = () => new Promise((resolve) => server.close(resolve));`,
  fastify: `const app = Fastify();
await app.register(slidegate, { limit: 1, windowSeconds: 60, store, limiterOptions });
app.get('/', async () => 'hello');
const url = (await app.listen({ port: 0, host: '127.0.0.1' })) + '/';
const close = () => app.close();`,
};

/** The program of `framework` in one module system; on Redis when REDIS_URL is set. */
function program(framework: string, kind: 'esm' | 'cjs'): string {
  const core = kind === 'esm' ? "import { RedisStore } from '@slidegate/core';" : "const { RedisStore } = require('@slidegate/core');";
  // ready(): until Redis has answered, checks are decided in fallback (in this process), which Redis never learns of.
  const main = `const store = process.env.REDIS_URL ? RedisStore.fromUrl(process.env.REDIS_URL, { prefix: 'pack-' + process.pid + ':' }) : undefined;
await store?.ready();
// A generous deadline: on a loaded test machine a check past the default one is decided in fallback, in this
// process, and the next request (decided by Redis) would not see it.
const limiterOptions = { timeoutMs: 1000 };
${BODY[framework]}
const first = await fetch(url);
const second = await fetch(url);
await close();
await store?.close();
console.log(JSON.stringify({ first: first.status, second: second.status, policy: first.headers.get('ratelimit-policy') }));`;
  return kind === 'esm' ? `${PROGRAMS[framework]!.esm}\n${core}\n${main}\n` : `${PROGRAMS[framework]!.cjs}\n${core}\n(async () => {\n${main}\n})();\n`;
}

/** Uses every package's types the way an application would, in an ES module and in a CommonJS one. */
const TYPED_APP = `import express from 'express';
import Koa from 'koa';
import Fastify from 'fastify';
import { RateLimiter, RedisStore, type Decision } from '@slidegate/core';
import { rateLimit as expressLimit } from '@slidegate/express';
import { rateLimit as koaLimit } from '@slidegate/koa';
import slidegate from '@slidegate/fastify';

const store: RedisStore | undefined = process.env.REDIS_URL ? RedisStore.fromUrl(process.env.REDIS_URL) : undefined;
const limiter = new RateLimiter({ limit: 10, windowSeconds: 60, store });
export async function decide(key: string): Promise<boolean> {
  const d: Decision = await limiter.check(key);
  return d.allowed;
}
const app = express();
const perKey = expressLimit({ limit: 10, windowSeconds: 60, keyGenerator: (req) => req.get('x-api-key') ?? 'anonymous' });
app.get('/api', perKey, (_req, res) => { res.json({ ok: true }); });
new Koa().use(koaLimit({ limit: 10, windowSeconds: 60 }));
export async function fastifyApp(): Promise<void> {
  const f = Fastify();
  await f.register(slidegate, { limit: 10, windowSeconds: 60 });
  await perKey.updateLimit('gold', 100, 60);
}
`;

describe('npm pack: the packages install into a new app and work there', function () {
  this.timeout(300_000);
  const packages = publicPackages();
  let work: string;
  let app: string;
  const tarballs = new Map<string, string>();
  let redis: RedisServer | undefined;
  let typeCheck: Promise<Result> | undefined;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), 'slidegate-pack-'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', work, ...packages.map((p) => `--workspace=${p.name}`)], ROOT);
    expect(packed.code, packed.stderr).to.equal(0);
    for (const entry of JSON.parse(packed.stdout) as Array<{ name: string; filename: string }>) tarballs.set(entry.name, path.join(work, entry.filename));
    app = path.join(work, 'app');
    await mkdir(app);
    const dependencies: Record<string, string> = {
      express: '^5.0.0',
      koa: '^3.0.0',
      fastify: '^5.0.0',
      ioredis: '^6.0.0',
      typescript: '5.9',
      '@types/node': '^20.19.0',
      '@types/express': '^5.0.0',
      '@types/koa': '^3.0.0',
    };
    for (const [name, file] of tarballs) dependencies[name] = `file:${file}`;
    await writeFile(path.join(app, 'package.json'), JSON.stringify({ name: 'slidegate-pack-app', private: true, dependencies }, null, 2));
    // Most of the tree is in npm's cache from this repository's own install; the rest comes from the registry.
    const installed = await run('npm', ['install', '--prefer-offline', '--no-package-lock'], app);
    expect(installed.code, installed.stderr).to.equal(0);
    expect(installed.stderr, 'no engine warning about our packages').not.to.match(/EBADENGINE[\s\S]{0,80}@slidegate/);
    redis = await startRedis();
    // The type-check runs beside the programs below (it takes the longest), and the last test awaits it.
    await writeFile(path.join(app, 'typed.mts'), TYPED_APP);
    await writeFile(path.join(app, 'typed.cts'), TYPED_APP);
    const tsc = path.join(app, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', 'typed.mts', 'typed.cts'];
    typeCheck = run(process.execPath, args, app);
  });

  after(async () => {
    await typeCheck;
    await redis?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('every tarball has README, LICENSE, both entry points with their declarations, and no build info or sources', async () => {
    expect([...tarballs.keys()].sort()).to.deep.equal(packages.map((p) => p.name).sort());
    for (const [name, file] of tarballs) {
      const listed = await run('tar', ['tzf', file], work);
      const files = listed.stdout.split('\n').filter(Boolean).map((f) => f.replace(/^package\//, ''));
      expect(files, name).to.include.members(['README.md', 'LICENSE', 'package.json', 'dist/index.js', 'dist/index.mjs', 'dist/index.d.ts', 'dist/index.d.mts']);
      expect(files.filter((f) => f.includes('tsbuildinfo') || f.startsWith('src/') || f.startsWith('test/')), name).to.deep.equal([]);
    }
  });

  it('installs without prom-client, with the ioredis and fastify-plugin that a new install picks (6)', () => {
    expect(existsSync(path.join(app, 'node_modules', 'prom-client'))).to.equal(false);
    const version = (pkg: string): string => (JSON.parse(readFileSync(path.join(app, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
    expect(version('ioredis')).to.match(/^6\./);
    expect(version('fastify-plugin')).to.match(/^6\./);
    // One copy of each: the store uses the ioredis the app has, and the plugin the fastify-plugin above.
    expect(existsSync(path.join(app, 'node_modules', '@slidegate', 'core', 'node_modules', 'ioredis'))).to.equal(false);
    expect(existsSync(path.join(app, 'node_modules', '@slidegate', 'fastify', 'node_modules', 'fastify-plugin'))).to.equal(false);
  });

  for (const framework of Object.keys(PROGRAMS)) {
    for (const kind of ['esm', 'cjs'] as const) {
      for (const onRedis of [false, true]) {
        it(`${framework} as ${kind === 'esm' ? 'an ES module' : 'CommonJS'} on ${onRedis ? 'Redis (ioredis 6)' : 'the in-process store'}: allows one, limits the next`, async () => {
          const file = path.join(app, `${framework}-${onRedis ? 'redis' : 'memory'}.${kind === 'esm' ? 'mjs' : 'cjs'}`);
          await writeFile(file, program(framework, kind));
          const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '' };
          delete env.REDIS_URL;
          if (onRedis) env.REDIS_URL = redis!.url;
          const result = await run(process.execPath, [file], app, env, 30_000);
          expect(result.code, result.stderr).to.equal(0);
          const out = JSON.parse(result.stdout.trim().split('\n').pop()!) as { first: number; second: number; policy: string | null };
          expect(out).to.deep.include({ first: 200, second: 429 });
          expect(out.policy).to.be.a('string');
        });
      }
    }
  }

  it('a TypeScript app type-checks with --strict and without skipLibCheck, as ESM and as CommonJS', async () => {
    const result = await typeCheck!;
    expect(ourTscErrors(result.stdout, /^(typed\.[mc]ts|node_modules\/@slidegate\/)/).join('\n')).to.equal('');
  });
});
