/**
 * Redis keys of a client. Every key is `${prefix}{${encodedId}}:<suffix>`, so all of a client's
 * keys share one Cluster hash tag (Redis hashes what lies between the first '{' and the first '}'
 * after it) and every script touches one slot.
 *
 * The encoding is injective and keeps the tag intact: '%' and '}' are percent-encoded (so the
 * first '}' after the '{' is always ours), and lone UTF-16 surrogates, which UTF-8 cannot carry
 * and would otherwise all collapse to U+FFFD, become `%uXXXX`. Everything else (colons, spaces,
 * newlines, '{', emoji) passes through unchanged, so keys stay readable.
 */

const ESCAPED = /[%}]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const ENCODED = /%(?:25|7D|u([0-9A-F]{4}))/g;
/** Most ids need no escaping: one test instead of a replace on the hot path. */
const MAY_NEED_ESCAPING = /[%}\uD800-\uDFFF]/;

/** Encodes a client id for use inside a hash tag. */
export function encodeClientId(clientId: string): string {
  if (!MAY_NEED_ESCAPING.test(clientId)) return clientId;
  return clientId.replace(ESCAPED, (c) => {
    if (c === '%') return '%25';
    if (c === '}') return '%7D';
    return `%u${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
  });
}

/** The inverse of {@link encodeClientId}. */
export function decodeClientId(encoded: string): string {
  return encoded.replace(ENCODED, (match, unit: string | undefined) => {
    if (unit !== undefined) return String.fromCharCode(parseInt(unit, 16));
    return match === '%25' ? '%' : '}';
  });
}

/**
 * Key suffixes; one per structure so that algorithms never read each other's state. The counting
 * keys end in '2', the version of their layout (ms times, buckets): a process of the earlier
 * layout (whole seconds) sharing the Redis never reads them, nor they its keys.
 */
export const KEY_SUFFIXES = {
  config: 'cfg',
  slidingWindow: 'sw2',
  slidingLog: 'sl2',
  slidingLogMeta: 'slm2',
  slidingCounter: 'sc2',
} as const;

/** Every key of one client. */
export interface ClientKeys {
  /** Hash {L, W}: the client's own limit. Never expires. */
  config: string;
  slidingWindow: string;
  slidingLog: string;
  slidingLogMeta: string;
  slidingCounter: string;
}

export function clientKeys(prefix: string, clientId: string): ClientKeys {
  const base = `${prefix}{${encodeClientId(clientId)}}:`;
  return {
    config: base + KEY_SUFFIXES.config,
    slidingWindow: base + KEY_SUFFIXES.slidingWindow,
    slidingLog: base + KEY_SUFFIXES.slidingLog,
    slidingLogMeta: base + KEY_SUFFIXES.slidingLogMeta,
    slidingCounter: base + KEY_SUFFIXES.slidingCounter,
  };
}

/** The pub/sub channel on which limit changes are announced (the message is the encoded client id). */
export function limitsChannel(prefix: string): string {
  return `${prefix}limits`;
}
