import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import request from 'supertest';
import type { StatusReport } from '@slidegate/core';
import { storeCases } from '../../core/test/http-support';
// @ts-ignore: the example is plain ESM JavaScript without type declarations.
import { createApp } from '../../../examples/express/app.mjs';

const ADMIN = { authorization: 'Bearer test-token' };

for (const storeCase of storeCases()) {
  describe(`examples/express on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    let example: { app: Parameters<typeof request>[0]; close(): Promise<void> };
    before(async () => {
      opened = await storeCase.open();
      example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
    });
    after(async () => {
      await example.close();
      await opened.close();
    });

    it('a limit changed through the admin route takes effect on the next request', async () => {
      const key = `${opened.prefix}-alice`;
      const get = async () => (await request(example.app).get('/api/data').set('x-api-key', key)).status;
      const codes: number[] = [];
      for (let i = 0; i < 6; i++) codes.push(await get());
      expect(codes).to.deep.equal([200, 200, 200, 200, 200, 429]);
      const refused = await request(example.app).post(`/admin/limits/${key}`).send({ limit: 7, windowSeconds: 60 });
      expect(refused.status).to.equal(401);
      const bad = await request(example.app).post(`/admin/limits/${key}`).set(ADMIN).send({ limit: -1, windowSeconds: 60 });
      expect([bad.status, bad.body.error]).to.deep.equal([400, 'slidegate: limit must be an integer from 0 to 9007199254740991; got number -1']);
      const changed = await request(example.app).post(`/admin/limits/${key}`).set(ADMIN).send({ limit: 7, windowSeconds: 60 });
      expect(changed.body).to.deep.equal({ key, limit: 7, windowSeconds: 60 });
      expect([await get(), await get(), await get()]).to.deep.equal([200, 200, 429]);
      const read = await request(example.app).get(`/admin/limits/${key}`).set(ADMIN);
      expect(read.body).to.deep.equal({ key, limit: 7, windowSeconds: 60 });
    });

    it('keys without a limit of their own keep the default; the public route limits by IP', async () => {
      const other = await request(example.app).get('/api/data').set('x-api-key', `${opened.prefix}-bob`);
      expect(other.headers.ratelimit).to.equal('"api"; r=4; t=60');
      expect((await request(example.app).get('/api/data')).status).to.equal(401);
      const first = await request(example.app).get('/');
      expect(first.headers.ratelimit).to.match(/^"public"; r=\d+; t=\d+$/);
    });
  });
}

for (const storeCase of storeCases()) {
  describe(`examples/express: /metrics and the status page on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    let example: { app: Parameters<typeof request>[0]; close(): Promise<void> };
    before(async () => {
      // A store of its own: the counts below start from zero.
      opened = await storeCase.open();
      example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
    });
    after(async () => {
      await example.close();
      await opened.close();
    });

    it('GET /metrics, /status.json and /status report the decisions made, and are not limited themselves', async () => {
      const server = example.app;
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

describe('npm start (scripts/start.mjs)', () => {
  let child: ChildProcess | undefined;
  after(() => {
    child?.kill();
  });

  it('starts the Express example on PORT and prints how to try it with curl, status page and metrics included', async () => {
    const root = resolve(__dirname, '../../..');
    child = spawn(process.execPath, ['scripts/start.mjs'], { cwd: root, env: { ...process.env, PORT: '0', REDIS_URL: '' }, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    const deadline = Date.now() + 10_000;
    // The banner's last line names the metrics; wait for it, since a pipe may split the banner.
    while (!output.includes('slidegate_decisions_total') && Date.now() < deadline) {
      const [chunk] = (await Promise.race([once(child.stdout!, 'data'), once(child, 'exit').then(() => [Buffer.from('')])])) as [Buffer];
      if (chunk.length === 0) break;
      output += chunk.toString();
    }
    expect(output).to.match(/slidegate Express example on http:\/\/localhost:\d+/);
    expect(output).to.include('curl');
    const base = /on (http:\/\/localhost:\d+)/.exec(output)?.[1] as string;
    expect(output).to.include(`${base}/status`);
    expect(output).to.include(`curl -s ${base}/status.json`);
    expect(output).to.include(`curl -s ${base}/metrics`);
    const response = await request(base).get('/');
    expect(response.status).to.equal(200);
    expect(response.headers.ratelimit).to.equal('"public"; r=9; t=60');
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).to.equal(0);
    child = undefined;
  });
});
