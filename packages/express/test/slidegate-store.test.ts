import { expect } from 'chai';
import express, { type Express } from 'express';
import { rateLimit as expressRateLimit, type Store as ExpressRateLimitStore } from 'express-rate-limit';
import request from 'supertest';
import { spawnSync } from 'node:child_process';
import { storeCases, statuses, warningsDuring } from '../../core/test/http-support';
import { SlidegateStore } from '../src/index';

// Compile-time proof that SlidegateStore satisfies express-rate-limit 8's Store interface.
const typeCheck: ExpressRateLimitStore = new SlidegateStore();
void typeCheck;


for (const storeCase of storeCases()) {
  describe(`SlidegateStore: express-rate-limit 8 on slidegate (${storeCase.name})`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    const stores: SlidegateStore[] = [];
    before(async () => {
      opened = await storeCase.open();
    });
    after(async () => {
      await Promise.all(stores.map((store) => store.shutdown()));
      await opened.close();
    });

    function appWith(options: Parameters<typeof expressRateLimit>[0], name: string): { app: Express; store: SlidegateStore } {
      const store = new SlidegateStore({ store: opened.store, limiterOptions: opened.limiterOptions, prefix: `${opened.prefix}-${name}:` });
      stores.push(store);
      const app = express();
      const middleware = expressRateLimit({ windowMs: 60_000, limit: 3, standardHeaders: 'draft-7', legacyHeaders: false, ...options, store });
      app.get('/', middleware, (_req, res) => void res.send('ok'));
      app.get('/fail', middleware, (_req, res) => void res.status(500).send('no'));
      return { app, store };
    }

    it('allows exactly the limit, then 429; denied requests are not counted', async () => {
      const { app, store } = appWith({ keyGenerator: () => 'client-1' }, 'basic');
      const responses = [];
      for (let i = 0; i < 5; i++) responses.push(await request(app).get('/'));
      expect(responses.map((r) => r.status)).to.deep.equal([200, 200, 200, 429, 429]);
      // reset is 60 or 61 (the oldest unit's 1 s bucket counts 60.000 .. 60.999 s, rounded up), or a
      // second or two less once time has passed since the oldest request on a slow machine.
      expect(responses.map((r) => String(r.headers.ratelimit).replace(/reset=(59|61)$/, 'reset=60'))).to.deep.equal([
        'limit=3, remaining=2, reset=60',
        'limit=3, remaining=1, reset=60',
        'limit=3, remaining=0, reset=60',
        'limit=3, remaining=0, reset=60',
        'limit=3, remaining=0, reset=60',
      ]);
      expect(Number(responses[4]?.headers['retry-after'])).to.be.within(58, 61);
      // slidegate records nothing for a denied request: still 3 hits, not 5.
      expect((await store.get('client-1'))?.totalHits).to.equal(3);
    });

    it('updateLimit on the store changes the verdict for that key at run time', async () => {
      const { app, store } = appWith({ keyGenerator: (req) => req.get('x-api-key') ?? 'none' }, 'update');
      const keyed = async (key: string) => (await request(app).get('/').set('x-api-key', key)).status;
      expect([await keyed('a'), await keyed('a'), await keyed('a'), await keyed('a')]).to.deep.equal([200, 200, 200, 429]);
      await store.updateLimit('a', 2, 60);
      expect(await store.getLimit('a')).to.deep.equal({ limit: 2, windowSeconds: 60 });
      expect(await keyed('a')).to.equal(429);
      expect(await keyed('b')).to.equal(200);
    });

    it('decrement gives back a request that skipFailedRequests un-counts', async () => {
      const { app, store } = appWith({ skipFailedRequests: true, keyGenerator: () => 'failing-client' }, 'skip');
      expect(await statuses(app, 5, '/fail')).to.deep.equal([500, 500, 500, 500, 500]);
      // Each failed response is given back after it finishes; allow the finish handlers to run.
      const deadline = Date.now() + 2000;
      while ((await store.get('failing-client'))?.totalHits !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      expect((await store.get('failing-client'))?.totalHits).to.equal(0);
    });

    it('skipFailedRequests keeps limiting: a 429 gives nothing back (limit 2, 20 requests: 2 allowed)', async () => {
      const { app } = appWith({ limit: 2, skipFailedRequests: true, keyGenerator: () => 'skip-failed' }, 'skip-failed');
      const seen = await statuses(app, 20);
      expect(seen.filter((s) => s === 200)).to.have.length(2);
    });

    it('the login pattern admits exactly the limit of failed attempts per window', async () => {
      let reached = 0;
      const store = new SlidegateStore({ store: opened.store, limiterOptions: opened.limiterOptions, prefix: `${opened.prefix}-login:` });
      stores.push(store);
      const app = express();
      const limiter = expressRateLimit({
        windowMs: 60_000,
        limit: 2,
        skipSuccessfulRequests: true,
        requestWasSuccessful: (_req, res) => res.statusCode !== 401,
        keyGenerator: () => 'login-user',
        store,
      });
      app.post('/login', limiter, (_req, res) => {
        reached++;
        res.status(401).send('wrong password');
      });
      const seen: number[] = [];
      for (let i = 0; i < 12; i++) seen.push((await request(app).post('/login')).status);
      expect(reached).to.equal(2);
      expect(seen.filter((s) => s === 401)).to.have.length(2);
    });

    it('concurrent requests each give back their own unit, never another request\'s', async () => {
      const { app } = appWith({ limit: 2, skipFailedRequests: true, keyGenerator: () => 'concurrent' }, 'concurrent');
      const server = app.listen(0);
      try {
        const all = await Promise.all(Array.from({ length: 20 }, () => request(server).get('/')));
        expect(all.filter((r) => r.status === 200)).to.have.length(2);
        // Every 429 was given back as nothing: a second burst still finds the window full.
        const again = await Promise.all(Array.from({ length: 5 }, () => request(server).get('/')));
        expect(again.map((r) => r.status)).to.deep.equal([429, 429, 429, 429, 429]);
      } finally {
        server.close();
      }
    });

    it('resetKey forgets the key, and never rejects', async () => {
      const { app, store } = appWith({ limit: 1, keyGenerator: () => 'reset-me' }, 'reset');
      expect(await statuses(app, 2)).to.deep.equal([200, 429]);
      await store.resetKey('reset-me');
      expect(await statuses(app, 2)).to.deep.equal([200, 429]);
      // Called without await, as users of express-rate-limit's limiter.resetKey(ip) do.
      void store.resetKey('reset-me');
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(await statuses(app, 1)).to.deep.equal([200]);
    });

    it('get() reads without recording, even when the limit is 2^53 - 1', async () => {
      const { app, store } = appWith({ limit: Number.MAX_SAFE_INTEGER, keyGenerator: () => 'huge' }, 'huge');
      expect(await statuses(app, 2)).to.deep.equal([200, 200]);
      for (let i = 0; i < 3; i++) expect((await store.get('huge'))?.totalHits).to.equal(2);
    });

    it('a second SlidegateStore with the same prefix on one store is refused', () => {
      appWith({}, 'shared-prefix');
      expect(() => new SlidegateStore({ store: opened.store, prefix: `${opened.prefix}-shared-prefix:` })).to.throw(RangeError, /already uses prefix/);
    });
  });
}

describe('SlidegateStore: what express-rate-limit needs of a store', () => {
  const made: SlidegateStore[] = [];
  after(async () => {
    await Promise.all(made.map((store) => store.shutdown()));
  });
  function store(options?: ConstructorParameters<typeof SlidegateStore>[0]): SlidegateStore {
    const s = new SlidegateStore(options);
    made.push(s);
    return s;
  }

  it('an in-process store has localKeys, and two independent limiters log no ERR_ERL_DOUBLE_COUNT', async () => {
    const logged: unknown[] = [];
    const logger = { error: (...args: unknown[]) => void logged.push(args), warn: (...args: unknown[]) => void logged.push(args) };
    const a = store();
    const b = store();
    expect(a.localKeys).to.equal(true);
    const app = express();
    app.get('/', expressRateLimit({ windowMs: 60_000, limit: 5, store: a, logger }), expressRateLimit({ windowMs: 60_000, limit: 5, store: b, logger }), (_req, res) => void res.send('ok'));
    expect(await statuses(app, 2)).to.deep.equal([200, 200]);
    expect(JSON.stringify(logged.map(String))).not.to.match(/DOUBLE_COUNT/);
    expect(logged).to.deep.equal([]);
  });

  it('resetAll forgets every key of a store it made', async () => {
    const s = store();
    const app = express();
    app.get('/', expressRateLimit({ windowMs: 60_000, limit: 1, store: s }), (_req, res) => void res.send('ok'));
    expect(await statuses(app, 2)).to.deep.equal([200, 429]);
    await s.resetAll?.();
    expect(await statuses(app, 1)).to.deep.equal([200]);
  });

  it('a windowMs that is not whole seconds works, counted as the next whole second (never more than limit in windowMs)', async () => {
    const warnings = await warningsDuring(async () => {
      const s = store();
      const app = express();
      app.get('/', expressRateLimit({ windowMs: 1500, limit: 2, store: s, keyGenerator: () => 'ms' }), (_req, res) => void res.send('ok'));
      expect(await statuses(app, 3)).to.deep.equal([200, 200, 429]);
      expect(s.limiter.defaults).to.deep.equal({ limit: 2, windowSeconds: 2 });
    });
    expect(warnings.map((w) => w.code)).to.include('SLIDEGATE_WINDOW_ROUNDED');
  });

  it('limit as a function stops the app at start-up with a message saying what to do instead', () => {
    const script = `
      const express = require('express');
      const { rateLimit } = require('express-rate-limit');
      const { SlidegateStore } = require(${JSON.stringify(require.resolve('@slidegate/express'))});
      const app = express();
      app.use(rateLimit({ windowMs: 60000, limit: () => 5, store: new SlidegateStore(), logger: { error() {}, warn() {} } }));
      const server = app.listen(0);
      setTimeout(() => { server.close(); console.log('still running'); }, 500);
    `;
    const result = spawnSync(process.execPath, ['-e', script], { cwd: __dirname, encoding: 'utf8', timeout: 20_000 });
    expect(result.stdout).not.to.include('still running');
    expect(result.status).to.not.equal(0);
    expect(result.stderr).to.match(/cannot take express-rate-limit option limit as a function/).and.match(/updateLimit/);
  });
});
