// Which parts of slidegate exist in the built output right now. Suites ask here and print "not available yet"
// for what is missing, so the harness runs today and each figure slots in when its part lands.

export const NOT_AVAILABLE = 'not available yet';

export async function loadCore() {
  return import('@slidegate/core');
}

async function tryImport(name) {
  try {
    return await import(name);
  } catch {
    return undefined;
  }
}

/** True when `RateLimiter` accepts `option` (parseOptions refuses unknown keys with "unknown option"). */
function acceptsOption(core, option, value) {
  try {
    const limiter = new core.RateLimiter({ limit: 10, windowSeconds: 10, [option]: value });
    void limiter.close();
    return true;
  } catch (error) {
    return !/unknown option/i.test(String(error?.message));
  }
}

/**
 * Options that keep the fault layer out of measurements of correctness or memory (not of speed): a store timeout
 * long enough that a busy machine never sends a decision to the fallback. Empty when the build has no timeout.
 */
export function patientStoreOptions(core) {
  try {
    const limiter = new core.RateLimiter({ limit: 10, windowSeconds: 10, timeoutMs: 10_000 });
    void limiter.close();
    return { timeoutMs: 10_000 };
  } catch {
    return {};
  }
}

function adapterExport(mod, names) {
  if (!mod) return undefined;
  for (const name of names) {
    const value = name === 'default' ? (mod.default?.default ?? mod.default) : mod[name];
    if (typeof value === 'function') return value;
  }
  return undefined;
}

/** A snapshot of what is built: { core, RedisStore, lease, failureMode, express, koa, fastify }. */
export async function detect() {
  const core = await loadCore();
  const [express, koa, fastify] = await Promise.all([
    tryImport('@slidegate/express'),
    tryImport('@slidegate/koa'),
    tryImport('@slidegate/fastify'),
  ]);
  return {
    core,
    RedisStore: typeof core.RedisStore === 'function' ? core.RedisStore : undefined,
    lease: acceptsOption(core, 'lease', true),
    failureMode: acceptsOption(core, 'failureMode', 'local'),
    express: adapterExport(express, ['rateLimit', 'default']),
    koa: adapterExport(koa, ['rateLimit', 'default']),
    fastify: adapterExport(fastify, ['slidegate', 'rateLimit', 'default']),
  };
}
