import { Redis } from 'ioredis';
import { sharedRedis, type SharedRedis } from '@slidegate/test-utils';
import { describeEquivalence } from './redis-equivalence';

// SLIDEGATE_EQUIVALENCE_RUNS raises the runs for a longer local soak (3000 runs take about 5 s).
let shared: SharedRedis | undefined;
describeEquivalence(
  'standalone Redis',
  async () => {
    shared = await sharedRedis();
    const client = new Redis(shared.url);
    return {
      client,
      cleanup: async () => {
        client.disconnect();
        await shared?.stop();
      },
    };
  },
  Number(process.env.SLIDEGATE_EQUIVALENCE_RUNS ?? 60),
);
