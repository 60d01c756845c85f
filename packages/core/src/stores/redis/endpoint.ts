/** What an endpoint description reads of a client: addresses only (never `password` or `username`). */
interface ClientShape {
  isCluster?: boolean;
  options?: {
    host?: unknown;
    port?: unknown;
    path?: unknown;
    name?: unknown;
    sentinels?: unknown;
    /** node-redis */
    url?: unknown;
    socket?: { host?: unknown; port?: unknown; path?: unknown };
    rootNodes?: unknown;
  };
  startupNodes?: unknown;
}

/**
 * Where a client connects, for messages: `127.0.0.1:6379`, `/run/redis.sock`, `Sentinel master
 * "mymaster" via 10.0.0.1:26379, ...`, or `Redis Cluster via 10.0.0.1:7000, ...`. Reads the host
 * and port fields of ioredis (and iovalkey) and node-redis clients, and strips credentials from a
 * URL, so a password never reaches a log. Undefined when the client says nothing of the kind
 * (a hand-written adapter).
 */
export function describeEndpoint(client: unknown): string | undefined {
  const c = (client ?? {}) as ClientShape;
  if (c.isCluster === true) return `Redis Cluster via ${nodeList(c.startupNodes)}`;
  const o = c.options;
  if (typeof o !== 'object' || o === null) return undefined;
  if (Array.isArray(o.rootNodes)) return `Redis Cluster via ${nodeList(o.rootNodes.map((node: { url?: unknown; socket?: unknown }) => node.url ?? node.socket))}`;
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0) {
    return `Sentinel master ${JSON.stringify(typeof o.name === 'string' ? o.name : 'mymaster')} via ${nodeList(o.sentinels)}`;
  }
  if (typeof o.path === 'string' && o.path !== '') return o.path;
  if (typeof o.url === 'string') return addressOnly(o.url);
  if (o.socket !== undefined) return typeof o.socket.path === 'string' ? o.socket.path : hostPort(o.socket);
  return hostPort(o);
}

function hostPort(node: unknown): string {
  if (typeof node === 'number') return `localhost:${node}`;
  if (typeof node === 'string') return addressOnly(node);
  const n = (node ?? {}) as { host?: unknown; port?: unknown };
  const host = typeof n.host === 'string' ? n.host : 'localhost';
  const port = typeof n.port === 'number' || typeof n.port === 'string' ? n.port : 6379;
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function nodeList(nodes: unknown): string {
  if (!Array.isArray(nodes) || nodes.length === 0) return 'its startup nodes';
  const listed = nodes.slice(0, 3).map(hostPort).join(', ');
  return nodes.length > 3 ? `${listed}, ...` : listed;
}

/** A URL (`redis://user:secret@host:port`): host and port only. */
function addressOnly(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port === '' ? 6379 : parsed.port}`;
  } catch {
    return url.replace(/^.*@/, '');
  }
}
