import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { resolve } from 'node:path';
import request from 'supertest';
import { storeCases } from '../../core/test/http-support';
import { describeExampleObservability } from '../../core/test/example-observability';
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
      // reset: the first unit's 1 s bucket counts 60.000 .. 60.999 s more, rounded up.
      expect(other.headers.ratelimit).to.match(/^"api"; r=4; t=6[01]$/);
      expect((await request(example.app).get('/api/data')).status).to.equal(401);
      const first = await request(example.app).get('/');
      expect(first.headers.ratelimit).to.match(/^"public"; r=\d+; t=\d+$/);
    });
  });
}

describeExampleObservability('express', async (opened) => {
  const example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
  return { server: example.app, close: () => example.close() };
});

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
    expect(response.headers.ratelimit).to.match(/^"public"; r=9; t=6[01]$/);
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).to.equal(0);
    child = undefined;
  });
});
