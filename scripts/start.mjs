// `npm start`: the Express example on PORT (default 3000), on Redis when REDIS_URL is set; it prints how to try
// the limited routes, the live status page (/status, /status.json) and the Prometheus metrics (/metrics).
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
