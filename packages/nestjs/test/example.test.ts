import { expect } from 'chai';
import request from 'supertest';
import { storeCases } from '../../core/test/http-support';
import { describeExampleObservability } from '../../core/test/example-observability';
import { createApp } from '../../../examples/nestjs/app';

const ADMIN = { authorization: 'Bearer test-token' };

for (const storeCase of storeCases()) {
  describe(`examples/nestjs on the ${storeCase.name}`, () => {
    let opened: Awaited<ReturnType<typeof storeCase.open>>;
    let example: Awaited<ReturnType<typeof createApp>>;
    let server: Parameters<typeof request>[0];
    before(async () => {
      opened = await storeCase.open();
      example = await createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
      server = example.app.getHttpServer();
    });
    after(async () => {
      await example.close();
      await opened.close();
    });

    it('a limit changed through the admin route takes effect on the next request; no API key is a 401, uncounted', async () => {
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
      expect((await request(server).get('/api/data').set('x-api-key', `${opened.prefix}-bob`)).headers.ratelimit).to.equal('"api"; r=4; t=60');
    });
  });
}

describeExampleObservability('nestjs', async (opened) => {
  const example = await createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
  return { server: example.app.getHttpServer(), close: () => example.close() };
});
