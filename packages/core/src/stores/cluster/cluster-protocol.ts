/**
 * The IPC messages between ClusterStore (in each worker) and the primary's server. Every message
 * is an object with `slidegate: PROTOCOL`, so an application's own IPC messages pass untouched.
 * Payloads travel as one JSON string of their own: Node's default IPC serialization is JSON too,
 * which would turn `retryAfter: Infinity` into null; the reviver below keeps it.
 */

/** Marks slidegate's messages; versioned so two slidegate versions on one cluster never mix. */
export const PROTOCOL = 'slidegate.cluster.v1';

/** Store calls a worker can make (the `Store` methods ClusterStore forwards). */
export type ClusterOp = 'check' | 'release' | 'reset' | 'getLimit' | 'setLimit' | 'shareFactor' | 'heartbeat';

/** Worker to primary. */
export type WorkerMessage =
  /** A store call; the answer carries the same id. */
  | { slidegate: typeof PROTOCOL; kind: 'call'; id: number; prefix: string; op: ClusterOp; payload: string }
  /** "Is a store served?": asked when a ClusterStore is created, answered with `hello`. */
  | { slidegate: typeof PROTOCOL; kind: 'ping' };

/** Primary to worker. */
export type PrimaryMessage =
  /** The store is served (sent to every worker when serving starts, to new workers, and after a ping). */
  | { slidegate: typeof PROTOCOL; kind: 'hello'; epoch: number }
  /** The answer to a call: `payload` is the JSON result, or `error` its message. */
  | { slidegate: typeof PROTOCOL; kind: 'reply'; id: number; payload?: string; error?: string }
  /** A client's limit changed (`clientId` undefined: any may have). */
  | { slidegate: typeof PROTOCOL; kind: 'limit'; prefix: string; clientId?: string }
  /** The server stopped: calls are refused until the next `hello`. */
  | { slidegate: typeof PROTOCOL; kind: 'bye' };

export function isProtocolMessage(message: unknown): message is { slidegate: typeof PROTOCOL; kind: string } {
  return typeof message === 'object' && message !== null && (message as { slidegate?: unknown }).slidegate === PROTOCOL;
}

const INFINITY = '∞';

export function encode(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === Infinity ? INFINITY : v)) ?? 'null';
}

export function decode<T>(text: string): T {
  return JSON.parse(text, (_key, v: unknown) => (v === INFINITY ? Infinity : v)) as T;
}
