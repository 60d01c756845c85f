import type Koa from 'koa';
import type { Context } from 'koa';

/**
 * `ctx.request.ip` for the default key, without the work Koa's getter does even with `app.proxy` off: it
 * reads `ctx.get(app.proxyIpHeader)` (a new lower-cased name, looked up in V8's string table on every
 * request) and builds `ctx.ips` only to find them unused, about 1,500 instructions a request under callgrind.
 *
 * With `app.proxy` off, Koa's getter returns the address set through `ctx.request.ip = ...`, else the
 * socket's. This reads the same two, but only for an app whose `request` still has Koa's own `ip`, `ips`,
 * `socket` and `get`, checked by asking a probe once per app. Anything else (trust proxy on, an app that
 * overrides one of them, a Koa whose getter answers otherwise) goes through `ctx.request.ip`.
 */
export class KoaClientAddress {
  #app: Koa | undefined;
  /** Koa's private key for an address set through `ctx.request.ip = ...`; undefined: use the getter. */
  #setAddressKey: symbol | undefined;

  of(ctx: Context): string | undefined {
    const app = ctx.app;
    if (app !== this.#app) this.#learn(app);
    const key = this.#setAddressKey;
    const request = ctx.request;
    if (key === undefined || app.proxy) return request.ip || undefined;
    return ((request as unknown as Record<symbol, string | undefined>)[key] || ctx.req.socket.remoteAddress) || undefined;
  }

  #learn(app: Koa): void {
    this.#app = app;
    this.#setAddressKey = koaSetAddressKey(app.request);
  }
}

const KOA_REQUEST_MEMBERS = ['ip', 'ips', 'socket', 'get'] as const;
const PROBE_SOCKET_ADDRESS = '192.0.2.1';
const PROBE_SET_ADDRESS = '198.51.100.1';

/**
 * The symbol under which Koa's `ip` setter keeps an address, when `request` answers exactly as Koa's
 * request does with `app.proxy` off: the socket's address, then the one set. Else undefined.
 */
function koaSetAddressKey(request: object): symbol | undefined {
  try {
    const koaRequest: unknown = Object.getPrototypeOf(request);
    if (koaRequest === null || typeof koaRequest !== 'object') return undefined;
    for (const member of KOA_REQUEST_MEMBERS) {
      if (Object.prototype.hasOwnProperty.call(request, member) || !Object.prototype.hasOwnProperty.call(koaRequest, member)) return undefined;
    }
    const probe = Object.create(request) as { ip: string; app: unknown; req: unknown };
    probe.app = { proxy: false, proxyIpHeader: 'X-Forwarded-For', maxIpsCount: 0 };
    probe.req = { headers: { 'x-forwarded-for': '203.0.113.1' }, socket: { remoteAddress: PROBE_SOCKET_ADDRESS } };
    if (probe.ip !== PROBE_SOCKET_ADDRESS) return undefined;
    probe.ip = PROBE_SET_ADDRESS;
    const keys = Object.getOwnPropertySymbols(probe).filter((symbol) => (probe as unknown as Record<symbol, unknown>)[symbol] === PROBE_SET_ADDRESS);
    if (keys.length !== 1 || probe.ip !== PROBE_SET_ADDRESS) return undefined;
    return keys[0];
  } catch {
    return undefined;
  }
}
