import { MemoryStore } from '@slidegate/core';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import request from 'supertest';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { adminTokenFromEnv, ADMIN_LIMIT, DEFAULT_ADMIN_TOKEN, isAdminRequest } from '../examples/admin-token.mjs';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { createApp as expressApp } from '../examples/express/app.mjs';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { createApp as koaApp } from '../examples/koa/app.mjs';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { createApp as fastifyApp } from '../examples/fastify/app.mjs';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { createApp as honoApp } from '../examples/hono/app.mjs';
import { serve } from '@hono/node-server';
import { createApp as nestApp } from '../examples/nestjs/app';

// The examples are copied into services: they must be safe to copy. No published admin token in production,
// none by surprise elsewhere, no guessing it by trying, and no client ids (API keys) on the status page.

interface Example {
  server: Server;
  close(): Promise<void>;
}

const listen = async (app: { listen(port: number, host: string): Server }): Promise<Server> => {
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
};

const EXAMPLES: Record<string, { start(store: MemoryStore): Promise<Example> }> = {
  express: {
    async start(store) {
      const example = expressApp({ store, adminToken: 'test-token' });
      const server = await listen(example.app);
      return { server, close: async () => (server.close(), await example.close()) };
    },
  },
  koa: {
    async start(store) {
      const example = koaApp({ store, adminToken: 'test-token' });
      const server = await listen(example.app);
      return { server, close: async () => (server.close(), await example.close()) };
    },
  },
  fastify: {
    async start(store) {
      const example = await fastifyApp({ store, adminToken: 'test-token' });
      await example.app.listen({ port: 0, host: '127.0.0.1' });
      return { server: example.app.server as Server, close: () => example.close() };
    },
  },
  hono: {
    async start(store) {
      const example = honoApp({ store, adminToken: 'test-token' });
      const server = serve({ fetch: example.app.fetch as (request: Request) => Response, port: 0, hostname: '127.0.0.1' }) as Server;
      await once(server, 'listening');
      return { server, close: async () => (server.close(), await example.close()) };
    },
  },
  nestjs: {
    async start(store) {
      const { app, close } = await nestApp({ store, adminToken: 'test-token' });
      await app.listen(0, '127.0.0.1');
      return { server: app.getHttpServer() as Server, close };
    },
  },
};

describe('examples: the admin token', () => {
  it('is required when NODE_ENV is production: the examples refuse to start without it', async () => {
    expect(() => adminTokenFromEnv({ NODE_ENV: 'production' })).to.throw(/ADMIN_TOKEN is not set and NODE_ENV is production: refusing to start/);
    expect(adminTokenFromEnv({ NODE_ENV: 'production', ADMIN_TOKEN: 's3cret' })).to.equal('s3cret');
    for (const name of Object.keys(EXAMPLES)) {
      const dir = path.resolve(__dirname, '..', 'examples', name);
      const env: NodeJS.ProcessEnv = { ...process.env, NODE_ENV: 'production', PORT: '0', REDIS_URL: '' };
      delete env.ADMIN_TOKEN;
      // The NestJS example is TypeScript, run through tsx with its own tsconfig (decorators), as its npm start does.
      const typescript = existsSync(path.join(dir, 'server.ts'));
      if (typescript) env.TSX_TSCONFIG_PATH = path.join(dir, 'tsconfig.json');
      const args = typescript ? ['--import', 'tsx', path.join(dir, 'server.ts')] : [path.join(dir, 'server.mjs')];
      const exit = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, args, { env, cwd: dir, timeout: 30_000 }, (_error, _stdout, stderr) => resolve({ code: child.exitCode, stderr }));
      });
      expect(exit.code, name).to.equal(1);
      expect(exit.stderr, name).to.match(/refusing to start with the published default admin token/);
    }
  });

  it('falls back to the published default elsewhere, with a loud warning', () => {
    const warned: string[] = [];
    const original = console.warn;
    console.warn = (...args: unknown[]) => void warned.push(args.join(' '));
    try {
      expect(adminTokenFromEnv({})).to.equal(DEFAULT_ADMIN_TOKEN);
    } finally {
      console.warn = original;
    }
    expect(warned.join('\n')).to.match(/WARNING: ADMIN_TOKEN is not set, so the admin routes accept the published default token 'dev-admin-token'/);
  });

  it('is compared whole: a prefix, another scheme or no header is refused', () => {
    expect(isAdminRequest('Bearer test-token', 'test-token')).to.equal(true);
    for (const header of ['Bearer test-toke', 'Bearer test-token ', 'Basic test-token', 'test-token', '', undefined]) {
      expect(isAdminRequest(header, 'test-token'), String(header)).to.equal(false);
    }
  });
});

for (const [name, { start }] of Object.entries(EXAMPLES)) {
  describe(`examples/${name}: safe to copy`, () => {
    let store: MemoryStore;
    let example: Example;
    let base: string;
    beforeEach(async () => {
      store = new MemoryStore();
      example = await start(store);
      base = `http://127.0.0.1:${(example.server.address() as AddressInfo).port}`;
    });
    afterEach(async () => {
      await example.close();
      await store.close();
    });

    it(`limits admin requests per client IP (${ADMIN_LIMIT.limit} a minute), right or wrong token, so a token cannot be guessed`, async () => {
      const codes: number[] = [];
      for (let i = 0; i < ADMIN_LIMIT.limit; i++) codes.push((await request(base).post('/admin/limits/alice').set('authorization', `Bearer guess-${i}`).send({ limit: 1, windowSeconds: 60 })).status);
      expect(codes).to.deep.equal(Array(ADMIN_LIMIT.limit).fill(401));
      const right = await request(base).post('/admin/limits/alice').set('authorization', 'Bearer test-token').send({ limit: 100, windowSeconds: 60 });
      expect(right.status).to.equal(429);
      expect(Number(right.headers['retry-after'])).to.be.at.least(1);
    });

    it('shows no client id on the status JSON (hashed), and says the page is for operators', async () => {
      for (let i = 0; i < 8; i++) await request(base).get('/api/data').set('x-api-key', 'alice-secret-key');
      const json = await request(base).get('/status.json');
      expect(json.status).to.equal(200);
      const api = (json.body as { limiters: Array<{ name: string; topClients: Array<{ clientId: string }> }> }).limiters.find((l) => l.name === 'api')!;
      expect(api.topClients.length).to.be.at.least(1);
      for (const client of api.topClients) expect(client.clientId).to.match(/^#[0-9a-f]{12}$/);
      expect(JSON.stringify(json.body)).not.to.include('alice');
      const page = await request(base).get('/status');
      expect(page.text).to.include('An operator page');
    });
  });
}
