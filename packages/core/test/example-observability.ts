/**
 * The checks every example service shares, whatever its framework: after known traffic, GET /metrics,
 * /status.json and /status report exactly the decisions made, and are not limited themselves; the admin
 * route changes a key's limit at run time.
 */
import { expect } from 'chai';
import request from 'supertest';
import { hashClientId, type StatusReport } from '@slidegate/core';
import { storeCases, type StoreCase } from './http-support';

type Opened = Awaited<ReturnType<StoreCase['open']>>;
/** What supertest can send requests to: an app, a handler or a server. */
export type Testable = Parameters<typeof request>[0];

/** Builds the example on the opened store and returns something supertest can call. */
type Start = (opened: Opened) => Promise<{ server: Testable; close(): Promise<void> }>;

/** `body` runs inside one describe per store case, with the example started on a store of its own (counts start from zero). */
function describeOnEachStore(title: (store: string) => string, start: Start, body: (current: () => { server: Testable; opened: Opened }) => void): void {
  for (const storeCase of storeCases()) {
    describe(title(storeCase.name), () => {
      let opened: Opened;
      let example: { server: Testable; close(): Promise<void> };
      before(async () => {
        opened = await storeCase.open();
        example = await start(opened);
      });
      after(async () => {
        await example.close();
        await opened.close();
      });
      body(() => ({ server: example.server, opened }));
    });
  }
}

/** GET /metrics, /status.json and /status after known traffic, for the example `start` builds. */
export function describeExampleObservability(framework: string, start: Start): void {
  describeOnEachStore((store) => `examples/${framework}: /metrics and the status page on the ${store}`, start, (current) => {
    it('GET /metrics, /status.json and /status report the decisions made, and are not limited themselves', async () => {
      const { server, opened } = current();
      const key = `${opened.prefix}-carol`;
      const publicCodes: number[] = [];
      for (let i = 0; i < 12; i++) publicCodes.push((await request(server).get('/')).status);
      expect(publicCodes).to.deep.equal([...Array<number>(10).fill(200), 429, 429]);
      const apiCodes: number[] = [];
      for (let i = 0; i < 6; i++) apiCodes.push((await request(server).get('/api/data').set('x-api-key', key)).status);
      expect(apiCodes).to.deep.equal([200, 200, 200, 200, 200, 429]);

      const metrics = await request(server).get('/metrics');
      expect(metrics.status).to.equal(200);
      expect(metrics.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      // On a shared store (Redis) the second denial comes from the denial cache, on there by default; so may
      // the first, when the lease that took the last units already told this instance the client was full.
      const deniedFrom = (source: string): number => Number(new RegExp(`slidegate_decisions_total\\{name="public",result="denied",source="${source}"\\} (\\d+)\\n`).exec(metrics.text)?.[1] ?? 0);
      if (opened.store.shared === true) {
        expect([deniedFrom('store') + deniedFrom('cache'), deniedFrom('cache') >= 1]).to.deep.equal([2, true]);
      } else {
        expect(deniedFrom('store')).to.equal(2);
      }
      expect([decisions(metrics.text, 'public', 'allowed'), decisions(metrics.text, 'public', 'denied')]).to.deep.equal([10, 2]);
      expect([decisions(metrics.text, 'api', 'allowed'), decisions(metrics.text, 'api', 'denied')]).to.deep.equal([5, 1]);

      // Asked after the public limit ran out: a limited /metrics would have been a 429 and counted.
      const status = await request(server).get('/status.json');
      expect(status.status).to.equal(200);
      expect(status.headers['cache-control']).to.equal('no-store');
      const limiters = (status.body as StatusReport).limiters;
      expect(limiters.map((l) => [l.name, l.totals.allowed, l.totals.denied])).to.deep.equal([
        ['public', 10, 2],
        ['api', 5, 1],
      ]);
      // Named by a keyed hash: an API key is a secret, and the page may be seen by more people than should see it.
      expect(limiters[1]!.topClients.map((c) => [c.clientId, c.count])).to.deep.equal([[hashClientId(`~4:api:${key}`), 1]]);

      const page = await request(server).get('/status');
      expect(page.status).to.equal(200);
      expect(page.headers['content-type']).to.match(/^text\/html/);
      expect(page.text).to.include('<canvas class="chart"');
    });
  });
}

/**
 * The admin route every example service has: a key's limit changed at run time takes effect on its next
 * request; a request without an API key is a 401 and not counted. `start` builds the example on the opened store.
 */
export function describeExampleAdmin(framework: string, start: Start): void {
  const ADMIN = { authorization: 'Bearer test-token' };
  describeOnEachStore((store) => `examples/${framework} on the ${store}`, start, (current) => {
    it('a limit changed through the admin route takes effect on the next request; no API key is a 401, uncounted', async () => {
      const { server, opened } = current();
      const key = `${opened.prefix}-alice`;
      const get = async () => (await request(server).get('/api/data').set('x-api-key', key)).status;
      expect((await request(server).get('/api/data')).status).to.equal(401);
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push(await get());
      expect(codes).to.deep.equal([200, 200, 200, 200, 200, 429]);
      expect((await request(server).post(`/admin/limits/${key}`).send({ limit: 7, windowSeconds: 60 })).status).to.equal(401);
      const bad = await request(server).post(`/admin/limits/${key}`).set(ADMIN).send({ limit: 1, windowSeconds: 0 });
      expect(bad.status).to.equal(400);
      const changed = await request(server).post(`/admin/limits/${key}`).set(ADMIN).send({ limit: 7, windowSeconds: 60 });
      expect(changed.body).to.deep.equal({ key, limit: 7, windowSeconds: 60 });
      expect([await get(), await get(), await get()]).to.deep.equal([200, 200, 429]);
      expect((await request(server).get(`/admin/limits/${key}`).set(ADMIN)).body).to.deep.equal({ key, limit: 7, windowSeconds: 60 });
      // reset: the first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
      expect((await request(server).get('/api/data').set('x-api-key', `${opened.prefix}-bob`)).headers.ratelimit).to.match(/^"api"; r=4; t=6[01]$/);
    });
  });
}

/** The value of one `slidegate_decisions_total` series in a Prometheus text scrape (NaN when absent). */
function decisions(scrape: string, name: string, result: 'allowed' | 'denied'): number {
  const lines = scrape.split('\n').filter((l) => l.startsWith(`slidegate_decisions_total{name="${name}",result="${result}",source=`));
  return lines.length === 0 ? Number.NaN : lines.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
