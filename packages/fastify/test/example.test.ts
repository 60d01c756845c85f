import { describeExampleAdmin, describeExampleObservability } from '../../core/test/example-observability';
// @ts-ignore: the example is plain ESM JavaScript without type declarations.
import { createApp } from '../../../examples/fastify/app.mjs';

const start: Parameters<typeof describeExampleAdmin>[1] = async (opened) => {
  const example = await createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
  await example.app.ready();
  return { server: example.app.server, close: () => example.close() };
};
describeExampleAdmin('fastify', start);
describeExampleObservability('fastify', start);
