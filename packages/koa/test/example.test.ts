import { describeExampleAdmin, describeExampleObservability } from '../../core/test/example-observability';
// @ts-ignore: the example is plain ESM JavaScript without type declarations.
import { createApp } from '../../../examples/koa/app.mjs';

const start: Parameters<typeof describeExampleAdmin>[1] = async (opened) => {
  const example = createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
  return { server: example.app.callback(), close: () => example.close() };
};
describeExampleAdmin('koa', start);
describeExampleObservability('koa', start);
