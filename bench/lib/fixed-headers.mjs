// slidegate's two draft-8 headers as it sends them to 127.0.0.1 on its first request under a limit of 1e9 a
// minute, lower-case names included: a step that only sends these (no decision) costs the least any limiter
// pays for the default headers.
export const FIXED_DRAFT8_HEADERS = [
  ['ratelimit-policy', '"1000000000-in-1min"; q=1000000000; w=60; pk=:MTJjYTE3YjQ5YWYy:'],
  ['ratelimit', '"1000000000-in-1min"; r=999999999; t=60'],
];

/**
 * A step that sets `headers` and decides nothing: Express, Koa and Hono middleware for `app.use`, a Fastify
 * `onRequest` hook for `app.addHook`. With no headers it is the framework's cost of one more step.
 */
export function fixedHeadersStep(framework, headers = FIXED_DRAFT8_HEADERS) {
  if (framework === 'express') {
    return (req, res, next) => {
      for (const [name, value] of headers) res.setHeader(name, value);
      next();
    };
  }
  if (framework === 'hono') {
    // On the Node response, as @slidegate/hono sets them on @hono/node-server: c.header() would cost a Web
    // Headers object a response (bench/tools/hono-path.mjs compares the two).
    return (c, next) => {
      const outgoing = c.env?.outgoing;
      for (const [name, value] of headers) {
        if (outgoing === undefined) c.header(name, value);
        else outgoing.setHeader(name, value);
      }
      return next();
    };
  }
  if (framework === 'koa') {
    return (ctx, next) => {
      for (const [name, value] of headers) ctx.res.setHeader(name, value);
      return next();
    };
  }
  return (request, reply, done) => {
    for (const [name, value] of headers) reply.header(name, value);
    done();
  };
}
