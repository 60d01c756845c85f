import { expect } from 'chai';
import { createAdaptorServer } from '@hono/node-server';
import request from 'supertest';
import { MemoryStore } from '@slidegate/core';
import { describeExampleAdmin, describeExampleObservability } from '../../core/test/example-observability';
// @ts-ignore: the example is plain ESM JavaScript without type declarations.
import { createApp } from '../../../examples/hono/app.mjs';

type Example = { app: { fetch: (request: Request, env?: unknown) => Response | Promise<Response> }; close(): Promise<void> };

const start: Parameters<typeof describeExampleAdmin>[1] = async (opened) => {
  const example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions }) as Example;
  return { server: createAdaptorServer({ fetch: example.app.fetch }), close: () => example.close() };
};
describeExampleAdmin('hono', start);
describeExampleObservability('hono', start);

describe('examples/hono', () => {
  it("the API route answers with what c.get('rateLimit') holds", async () => {
    const store = new MemoryStore();
    const example = createApp({ store }) as Example;
    try {
      const response = await request(createAdaptorServer({ fetch: example.app.fetch })).get('/api/data').set('x-api-key', 'carol');
      expect([response.status, response.body.remaining]).to.deep.equal([200, 4]);
    } finally {
      await example.close();
      await store.close();
    }
  });
});
