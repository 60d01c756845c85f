import type { IncomingHttpHeaders } from 'node:http';
import { PROXY_PROBE, trustsAnyProxy, type TrustFunction } from './client-ip';
import type { RequestAccess } from './http-limiter';

/**
 * How a framework is told which proxies to trust, as the warnings about X-Forwarded-For and unknown
 * client addresses name it.
 */
export interface TrustProxySetting {
  /** Trusting one's own proxies: by their addresses (or their number). */
  trust: string;
  /** Trusting one hop, for a proxy in front of a Unix socket; undefined when the framework has no such setting. */
  hop?: string;
}

/** The trust-proxy settings of the frameworks the adapters serve, each in its own words. */
export const TRUST_PROXY_SETTINGS = {
  express: { trust: "app.set('trust proxy', '10.0.0.0/8'), or the number of proxies", hop: "app.set('trust proxy', 1)" },
  koa: { trust: 'app.proxy = true with app.maxIpsCount = <number of proxies>', hop: 'app.proxy = true, app.maxIpsCount = 1' },
  fastify: { trust: "Fastify({ trustProxy: '10.0.0.0/8' }), or the number of proxies", hop: 'Fastify({ trustProxy: (address, hop) => hop < 1 })' },
  /** @slidegate/hono's own option: Hono has none (and no address without @hono/node-server, so no hop setting helps). */
  hono: { trust: "rateLimit({ trustProxy: '10.0.0.0/8' }), or the number of proxies" },
  /** NestJS on Fastify: the server options go through the adapter. */
  nestFastify: {
    trust: "new FastifyAdapter({ trustProxy: '10.0.0.0/8' }), or the number of proxies",
    hop: 'new FastifyAdapter({ trustProxy: (address, hop) => hop < 1 })',
  },
} as const satisfies Record<string, TrustProxySetting>;

/** What the shared layer reads of an Express request (4 and 5; also NestJS on Express). */
export interface ExpressLikeRequest {
  /** Resolved through the app's 'trust proxy' setting. */
  ip?: string | undefined;
  headers: IncomingHttpHeaders;
  socket?: { remoteAddress?: string | undefined } | null;
  app: { get(setting: string): unknown };
}

/** Express requests: `req.ip` follows the app's 'trust proxy', which Express also compiles into one function. */
export const EXPRESS_REQUEST_ACCESS: RequestAccess<ExpressLikeRequest> = {
  ip: (req) => req.ip,
  forwardedForIgnored: (req) => req.headers['x-forwarded-for'] !== undefined && trustsNoProxy(req.app.get('trust proxy')),
  // Express compiles every 'trust proxy' form (true, a hop count, addresses, a function) into one function.
  permissiveProxy: (req) => trustsAnyProxy(req.app.get('trust proxy fn') as TrustFunction),
  socketAddress: (req) => req.socket?.remoteAddress,
  proxySetting: () => TRUST_PROXY_SETTINGS.express,
};

/** Express's 'trust proxy' off: its default (undefined), false or no hops. */
function trustsNoProxy(setting: unknown): boolean {
  return setting === false || setting === undefined || setting === 0;
}

/** What the shared layer reads of a Fastify request (5; also NestJS on Fastify). */
export interface FastifyLikeRequest {
  /** Resolved through the server's `trustProxy`. */
  ip: string | undefined;
  /** Only there when `trustProxy` is on. */
  ips?: string[] | undefined;
  headers: IncomingHttpHeaders;
  raw: { socket?: { remoteAddress?: string | undefined } | null };
}

/** Fastify requests: `request.ip` follows the server's `trustProxy`; `request.ips` only exists when it is on. */
export const FASTIFY_REQUEST_ACCESS: RequestAccess<FastifyLikeRequest> = {
  ip: (request) => request.ip,
  forwardedForIgnored: (request) => request.headers['x-forwarded-for'] !== undefined && request.ips === undefined,
  permissiveProxy: fastifyTrustsAnyProxy,
  socketAddress: (request) => request.raw.socket?.remoteAddress,
  proxySetting: () => TRUST_PROXY_SETTINGS.fastify,
};

/** Whether a server's `trustProxy` trusts any proxy, per request prototype (one per server). */
const permissiveByPrototype = new WeakMap<object, boolean>();

/**
 * True when the server's `trustProxy` takes the client address from the left end of
 * X-Forwarded-For (`true`, `'0.0.0.0/0'`, ...). Fastify keeps its trust function to itself, so its
 * own `ip` getter is asked once, on a probe request that passed through public hops.
 */
function fastifyTrustsAnyProxy(request: FastifyLikeRequest): boolean {
  const prototype = Object.getPrototypeOf(request) as object;
  let answer = permissiveByPrototype.get(prototype);
  if (answer === undefined) {
    try {
      const socket = { remoteAddress: PROXY_PROBE.socketAddress };
      const probe = Object.create(prototype) as { ip: unknown };
      Object.defineProperty(probe, 'raw', { value: { headers: { 'x-forwarded-for': PROXY_PROBE.forwardedFor }, socket, connection: socket } });
      answer = probe.ip === PROXY_PROBE.client;
    } catch {
      answer = false;
    }
    permissiveByPrototype.set(prototype, answer);
  }
  return answer;
}

/**
 * One access for requests that may come from either of several frameworks (NestJS runs on Express or
 * on Fastify): `pick` gives the access that reads this request.
 */
export function accessByRequest<Req>(pick: (req: Req) => RequestAccess<Req>): RequestAccess<Req> {
  return {
    ip: (req) => pick(req).ip(req),
    forwardedForIgnored: (req) => pick(req).forwardedForIgnored(req),
    permissiveProxy: (req) => pick(req).permissiveProxy?.(req) === true,
    socketAddress: (req) => pick(req).socketAddress?.(req),
    proxySetting: (req) => pick(req).proxySetting?.(req),
  };
}
