// `npm start`: the Express example on PORT (default 3000), on Redis when REDIS_URL is set.
import { main } from '../examples/express/server.mjs';

const { stop } = await main();
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    stop().then(
      () => process.exit(0),
      (error) => {
        console.error(error);
        process.exit(1);
      },
    );
  });
}
