import { describeExampleAdmin, describeExampleObservability } from '../../core/test/example-observability';
import { createApp } from '../../../examples/nestjs/app';

const start: Parameters<typeof describeExampleAdmin>[1] = async (opened) => {
  const example = await createApp({ store: opened.store, adminToken: 'test-token', limiterOptions: opened.limiterOptions });
  return { server: example.app.getHttpServer(), close: () => example.close() };
};
describeExampleAdmin('nestjs', start);
describeExampleObservability('nestjs', start);
