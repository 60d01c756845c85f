import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from 'hono';
import proxyAddr from 'proxy-addr';

/**
 * Which proxies in front of the server may say who the client is (X-Forwarded-For), as Express's
 * 'trust proxy' takes it: `false` (none: the socket's address), the number of proxies, their
 * addresses or CIDR ranges (`'10.0.0.0/8'`, `['loopback', '203.0.113.7']`), a function of an address
 * and its hop, or `true` (any: the left end of the header, which every client can write).
 */
export type TrustProxy = boolean | number | string | readonly string[] | ((address: string, hop: number) => boolean);

/** A compiled `TrustProxy`, as proxy-addr takes it; undefined when no proxy is trusted. */
export type Trust = ((address: string, hop: number) => boolean) | undefined;

export function compileTrust(value: TrustProxy, name: string): Trust {
  if (value === false || value === 0) return undefined;
  if (value === true) return () => true;
  if (typeof value === 'function') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`slidegate: ${name} must be an integer >= 0 (the number of proxies); got ${value}`);
    return (_address, hop) => hop < value;
  }
  if (typeof value === 'string' || Array.isArray(value)) {
    const list = (typeof value === 'string' ? value.split(',') : (value as readonly unknown[])).map((entry) => (typeof entry === 'string' ? entry.trim() : entry));
    try {
      return proxyAddr.compile(list as string[]);
    } catch (error) {
      throw new TypeError(`slidegate: ${name} must list IP addresses, CIDR ranges or 'loopback', 'linklocal', 'uniquelocal'; ${(error as Error).message}`);
    }
  }
  throw new TypeError(`slidegate: ${name} must be a boolean, a number of proxies, addresses or a function; got ${typeof value}`);
}

/** The Node request behind the context: `c.env.incoming` on @hono/node-server; undefined elsewhere. */
export function incomingOf(c: Context): IncomingMessage | undefined {
  return (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
}

/** The Node response behind the context: `c.env.outgoing` on @hono/node-server (HTTP/2's has the same header API). */
export function outgoingOf(c: Context): ServerResponse | undefined {
  return (c.env as { outgoing?: ServerResponse } | undefined)?.outgoing;
}

/**
 * The client address: the socket's, or with trusted proxies the nearest untrusted address in
 * X-Forwarded-For. The header is read from the Node request, which needs no Web `Headers` object.
 */
export function clientAddress(c: Context, trust: Trust): string | undefined {
  const incoming = incomingOf(c);
  if (incoming === undefined) return undefined;
  if (trust === undefined || incoming.headers['x-forwarded-for'] === undefined) return incoming.socket.remoteAddress;
  return incoming.socket.remoteAddress === undefined ? undefined : proxyAddr(incoming, trust);
}
