import { expect } from 'chai';
import { createAdaptorServer } from '@hono/node-server';
import type { Server } from 'node:http';
import request from 'supertest';
import { storeCases } from '../../core/test/http-support';
import { describeExampleObservability } from '../../core/test/example-observability';
// @ts-ignore: the example is plain ESM JavaScript without type declarations.
import { createApp } from '../../../examples/hono/app.mjs';

const ADMIN = { authorization: 'Bearer test-token' };
type Example = { app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> }; close(): Promise<void> };

for (const storeCase of storeCases()) {
  describe(`examples/hono on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    let example: Example;
    let server: Server;
    before(async () => {
      opened = await storeCase.open();
      example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions }) as Example;
      server = createAdaptorServer({ fetch: example.app.fetch }) as Server;
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
      const bob = await request(server).get('/api/data').set('x-api-key', `${opened.prefix}-bob`);
      expect([bob.headers.ratelimit, bob.body.remaining]).to.deep.equal(['"api"; r=4; t=60', 4]);
    });
  });
}

describeExampleObservability('hono', async (opened) => {
  const example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions }) as Example;
  return { server: createAdaptorServer({ fetch: example.app.fetch }), close: () => example.close() };
});
