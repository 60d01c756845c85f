import type { Cluster, Redis } from 'ioredis';

/** What an endpoint description reads of a client: addresses only (never `password` or `username`). */
interface ClientShape {
  isCluster?: boolean;
  options?: { host?: unknown; port?: unknown; path?: unknown; name?: unknown; sentinels?: unknown };
  startupNodes?: unknown;
}

/**
 * Where a client connects, for messages: `127.0.0.1:6379`, `/run/redis.sock`, `Sentinel master
 * "mymaster" via 10.0.0.1:26379, ...`, or `Redis Cluster via 10.0.0.1:7000, ...`. Built from host
 * and port fields only, so a password in the URL never reaches a log.
 */
export function describeEndpoint(client: Redis | Cluster): string {
  const c = client as unknown as ClientShape;
  if (c.isCluster === true) return `Redis Cluster via ${nodeList(c.startupNodes)}`;
  const o = c.options ?? {};
  if (Array.isArray(o.sentinels) && o.sentinels.length > 0) {
    return `Sentinel master ${JSON.stringify(typeof o.name === 'string' ? o.name : 'mymaster')} via ${nodeList(o.sentinels)}`;
  }
  if (typeof o.path === 'string' && o.path !== '') return o.path;
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

/** A startup node given as a URL (`redis://user:secret@host:port`): host and port only. */
function addressOnly(node: string): string {
  try {
    const url = new URL(node);
    return `${url.hostname}:${url.port === '' ? 6379 : url.port}`;
  } catch {
    return node.replace(/^.*@/, '');
  }
}
