/**
 * Keys a client cannot choose, and addresses that cannot be known, on every adapter through real
 * servers: behind a Unix socket (no client address) requests are never pooled silently, every
 * permissive trust-proxy setting warns, and a non-IP value in a trusted X-Forwarded-For position is
 * never used as a key verbatim.
 */
import { once } from 'node:events';
import { request as httpRequest, createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import express from 'express';
import Fastify, { type FastifyServerOptions } from 'fastify';
import Koa from 'koa';
import type { UnknownAddressAction } from '@slidegate/core';
import { rateLimit as expressLimit } from '../packages/express/src/index';
import { slidegate } from '../packages/fastify/src/index';
import { rateLimit as koaLimit } from '../packages/koa/src/index';
import { warningsDuring } from '../packages/core/test/http-support';

/** What the adapters' tests need of a server: its handler, given the adapter's options and a trust setting. */
type Trust = 'off' | 'loopback' | 'any' | 'hop';
interface Served {
  server: Server;
  close(): Promise<void>;
}
type Make = (options: Record<string, unknown>, trust: Trust) => Promise<Served>;

const adapters: Array<[string, Make]> = [
  [
    'express',
    async (options, trust) => {
      const app = express();
      app.set('trust proxy', { off: false, loopback: 'loopback', any: true, hop: 1 }[trust]);
      const limiter = expressLimit(options as never);
      app.use(limiter);
      app.get('/', (_req, res) => res.send('ok'));
      return { server: createServer(app), close: () => limiter.close() };
    },
  ],
  [
    'koa',
    async (options, trust) => {
      const app = new Koa();
      app.proxy = trust !== 'off' && trust !== 'loopback';
      if (trust === 'hop') app.maxIpsCount = 1;
      const limiter = koaLimit(options as never);
      app.use(limiter);
      app.use((ctx) => {
        ctx.body = 'ok';
      });
      return { server: createServer(app.callback()), close: () => limiter.close() };
    },
  ],
  [
    'fastify',
    async (options, trust) => {
      // Fastify refuses a bare hop count (it cannot check the peer), so one proxy is named by its address.
      const trustProxy = { off: false, loopback: 'loopback', any: true, hop: '127.0.0.1' }[trust] as FastifyServerOptions['trustProxy'];
      let server: Server | undefined;
      const app = Fastify({
        trustProxy,
        serverFactory: (handler) => {
          server = createServer(handler);
          return server;
        },
      });
      await app.register(slidegate, options as never);
      app.get('/', async () => 'ok');
      await app.ready();
      return { server: server as Server, close: () => app.close() };
    },
  ],
];

/** What the warnings tell each adapter's users to set: trust proxies by address, or by one hop (Unix socket). */
const SETTINGS: Record<string, { trust: string; hop: string }> = {
  express: { trust: "app.set('trust proxy', '10.0.0.0/8')", hop: "app.set('trust proxy', 1)" },
  koa: { trust: 'app.maxIpsCount = <number of proxies>', hop: 'app.proxy = true, app.maxIpsCount = 1' },
  fastify: { trust: "Fastify({ trustProxy: '10.0.0.0/8' })", hop: 'Fastify({ trustProxy: (address, hop) => hop < 1 })' },
};
/** Another framework's name in a warning, which should name this adapter's setting only. */
const otherFramework = (name: string) => new RegExp(['Express', 'Koa', 'Fastify', 'Hono'].filter((n) => n.toLowerCase() !== name).join('|'));

/** Status codes of `n` GET / requests over `target` (a Unix socket path or a TCP port). */
async function statuses(target: string | number, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) {
    codes.push(
      await new Promise<number>((resolve, reject) => {
        const where = typeof target === 'string' ? { socketPath: target } : { host: '127.0.0.1', port: target };
        const req = httpRequest({ ...where, path: '/', headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      }),
    );
  }
  return codes;
}

describe('client addresses: never pooled silently, never chosen by the client (real servers, all adapters)', function () {
  this.timeout(20_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'slidegate-sock-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const [name, make] of adapters) {
    describe(name, () => {
      /** Serves the adapter on a Unix socket path, or on a TCP port of 127.0.0.1 (`socket` false), for `body`. */
      async function served(options: Record<string, unknown>, trust: Trust, body: (target: string | number) => Promise<void>, socket = true): Promise<void> {
        const app = await make({ limit: 1, windowSeconds: 60, ...options }, trust);
        if (socket) app.server.listen(path.join(dir, `${name}-${Math.random().toString(36).slice(2)}.sock`));
        else app.server.listen(0, '127.0.0.1');
        await once(app.server, 'listening');
        const address = app.server.address();
        try {
          await body(typeof address === 'string' ? address : (address as { port: number }).port);
        } finally {
          app.server.close();
          await app.close();
        }
      }
      const onSocket = (options: Record<string, unknown>, trust: Trust, body: (target: string | number) => Promise<void>) => served(options, trust, body);

      for (const trust of ['off', 'loopback'] as const) {
        it(`behind a Unix socket (trust proxy ${trust}): one client no longer locks out everyone; one warning`, async () => {
          const warnings = await warningsDuring(() => onSocket({}, trust, async (socket) => expect(await statuses(socket, 3)).to.deep.equal([200, 200, 200])));
          expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_UNKNOWN_CLIENT_ADDRESS']);
          expect(warnings[0]?.message).to.include('unknownAddress').and.include(SETTINGS[name]!.hop).and.not.match(otherFramework(name));
        });
      }

      const actions: Array<[UnknownAddressAction, number[]]> = [
        ['deny', [503, 503]],
        ['pool', [200, 429]],
        ['skip', [200, 200]],
      ];
      for (const [action, expected] of actions) {
        it(`unknownAddress '${action}' is followed, and said once`, async () => {
          const warnings = await warningsDuring(() => onSocket({ unknownAddress: action }, 'off', async (socket) => expect(await statuses(socket, 2)).to.deep.equal(expected)));
          expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_UNKNOWN_CLIENT_ADDRESS']);
        });
      }

      it('trust proxy that trusts anyone warns once', async () => {
        const warnings = await warningsDuring(() => served({ limit: 5 }, 'any', async (port) => void (await statuses(port, 2, { 'x-forwarded-for': '203.0.113.5' })), false));
        expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_PERMISSIVE_TRUST_PROXY']);
        expect(warnings[0]?.message).to.include(SETTINGS[name]!.trust).and.not.match(otherFramework(name));
      });

      it('a non-IP string in a trusted X-Forwarded-For position is not a key: such requests are keyed by the peer', async () => {
        let codes: number[] = [];
        const warnings = await warningsDuring(() =>
          served(
            {},
            'hop',
            async (port) => {
              // Each value its own key, before: a client could take a fresh window per request.
              for (const value of ['not-an-ip', 'another one', '203.0.113.9']) codes.push(...(await statuses(port, 1, { 'x-forwarded-for': value })));
            },
            false,
          ),
        );
        expect(codes, 'both non-IP values count as 127.0.0.1; a real address has its own window').to.deep.equal([200, 429, 200]);
        expect(warnings.map((w) => w.code)).to.deep.equal(['SLIDEGATE_CLIENT_ADDRESS_NOT_IP']);
      });
    });
  }
});
