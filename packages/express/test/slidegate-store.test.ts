import { expect } from 'chai';
import express, { type Express } from 'express';
import { rateLimit as expressRateLimit, type Store as ExpressRateLimitStore } from 'express-rate-limit';
import request from 'supertest';
import { storeCases, statuses } from '../../core/test/http-support';
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
      // reset is 60, or a second or two less once time has passed since the oldest request on a slow machine.
      expect(responses.map((r) => String(r.headers.ratelimit).replace(/reset=5[89]$/, 'reset=60'))).to.deep.equal([
        'limit=3, remaining=2, reset=60',
        'limit=3, remaining=1, reset=60',
        'limit=3, remaining=0, reset=60',
        'limit=3, remaining=0, reset=60',
        'limit=3, remaining=0, reset=60',
      ]);
      expect(Number(responses[4]?.headers['retry-after'])).to.be.within(58, 60);
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

    it('resetKey is refused with a clear error (slidegate stores never delete counts)', async () => {
      const { store } = appWith({}, 'reset');
      const error = await store.resetKey('x').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(Error).and.have.property('message').that.matches(/cannot reset "x"/);
    });
  });
}
