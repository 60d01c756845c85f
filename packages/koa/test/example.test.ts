import { expect } from 'chai';
import request from 'supertest';
import type { StatusReport } from '@slidegate/core';
import { storeCases } from '../../core/test/http-support';
// @ts-ignore: the example is plain ESM JavaScript without type declarations.
import { createApp } from '../../../examples/koa/app.mjs';

const ADMIN = { authorization: 'Bearer test-token' };

for (const storeCase of storeCases()) {
  describe(`examples/koa on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    let example: { app: { callback(): Parameters<typeof request>[0] }; close(): Promise<void> };
    let server: Parameters<typeof request>[0];
    before(async () => {
      opened = await storeCase.open();
      example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
      server = example.app.callback();
    });
    after(async () => {
      await example.close();
      await opened.close();
    });

    it('a limit changed through the admin route takes effect on the next request', async () => {
      const key = `${opened.prefix}-alice`;
      const get = async () => (await request(server).get('/api/data').set('x-api-key', key)).status;
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
      expect((await request(server).get('/api/data').set('x-api-key', `${opened.prefix}-bob`)).headers.ratelimit).to.equal('"api"; r=4; t=60');
    });
  });
}

for (const storeCase of storeCases()) {
  describe(`examples/koa: /metrics and the status page on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    let example: { app: { callback(): Parameters<typeof request>[0] }; close(): Promise<void> };
    let server: Parameters<typeof request>[0];
    before(async () => {
      // A store of its own: the counts below start from zero.
      opened = await storeCase.open();
      example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
      server = example.app.callback();
    });
    after(async () => {
      await example.close();
      await opened.close();
    });

    it('GET /metrics, /status.json and /status report the decisions made, and are not limited themselves', async () => {
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
      expect(metrics.text).to.include('slidegate_decisions_total{name="public",result="denied",source="store"} 2\n');
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
      expect(limiters[1]!.topClients.map((c) => [c.clientId, c.count])).to.deep.equal([[`api:${key}`, 1]]);

      const page = await request(server).get('/status');
      expect(page.status).to.equal(200);
      expect(page.headers['content-type']).to.match(/^text\/html/);
      expect(page.text).to.include('<canvas class="chart"');
    });
  });
}

/** The value of one `slidegate_decisions_total` series in a Prometheus text scrape (NaN when absent). */
function decisions(scrape: string, name: string, result: 'allowed' | 'denied'): number {
  const line = scrape.split('\n').find((l) => l.startsWith(`slidegate_decisions_total{name="${name}",result="${result}",source="store"} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}
