// A worker process of test/outage-log.test.ts: an application on RedisStore.fromUrl (the BUILT
// @slidegate/core) deciding a request every 20 ms, with every default, so that its stderr shows
// what a user's log would. Input: one JSON argument { url, prefix }. Says 'ready' after its first
// store decision; on 'stop' closes and replies with its decision counts by source.
import { RateLimiter, RedisStore } from '@slidegate/core';

const { url, prefix } = JSON.parse(process.argv[2]);
const store = RedisStore.fromUrl(url, { prefix });
const limiter = new RateLimiter({ limit: 1_000_000, windowSeconds: 60, store });
const counts = { store: 0, fallback: 0, lastSource: '' };
let ready = false;
const timer = setInterval(() => {
  void limiter.check('outage-client').then((decision) => {
    counts[decision.source] = (counts[decision.source] ?? 0) + 1;
    counts.lastSource = decision.source;
    if (!ready && decision.source === 'store') {
      ready = true;
      process.send?.('ready');
    }
  });
}, 20);
process.on('message', (message) => {
  if (message === 'counts') process.send?.(counts);
  if (message !== 'stop') return;
  clearInterval(timer);
  void limiter.close().then(() => store.close()).then(() => process.send?.(counts, () => process.exit(0)));
});
