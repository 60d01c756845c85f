import { createHash } from 'node:crypto';
import { MAX_CLIENT_ID_BYTES } from '../validate';

/** Starts every store key that is not an unnamed limiter's client key as it is. */
const FRAMED = '~';

/**
 * The store key of a client key under a limiter's prefix, one-to-one: no two (prefix, client key)
 * pairs share a key, whatever their lengths and contents.
 *
 * - No prefix (an unnamed limiter), a client key that fits and does not start with `~`: the key
 *   itself (`203.0.113.7`).
 * - Otherwise `~<n>:<prefix><client key>`, where `<n>` is the prefix's length in UTF-16 units. The
 *   length says where the prefix ends, so `a:` + `b:x` (`~2:a:b:x`) and `a:b:` + `x` (`~4:a:b:x`)
 *   differ, and the `api` limiter's `alice` (`~4:api:alice`) is not an unnamed limiter's
 *   `api:alice` (`api:alice`).
 * - `~<n>#<prefix><sha256 of the client key, hex>` when the key would pass 1,024 UTF-8 bytes (the
 *   longest client id a store takes). The `#` marks the form, so no short key can spell a long key's
 *   hash and share its window; two long keys share one only if SHA-256 collides.
 *
 * Injective because it can be read back: a key without the leading `~` is the first form; after
 * it, the digits up to the first `:` or `#` give the form and where the prefix ends.
 */
export function storeKey(prefix: string, clientKey: string): string {
  if (prefix === '' && !clientKey.startsWith(FRAMED) && fits(clientKey)) return clientKey;
  const framed = `${FRAMED}${prefix.length}:${prefix}${clientKey}`;
  if (fits(framed)) return framed;
  return `${FRAMED}${prefix.length}#${prefix}${createHash('sha256').update(clientKey).digest('hex')}`;
}

function fits(key: string): boolean {
  // A UTF-16 unit is at most 3 bytes of UTF-8, so short keys skip the byte count.
  return key.length * 3 <= MAX_CLIENT_ID_BYTES || Buffer.byteLength(key, 'utf8') <= MAX_CLIENT_ID_BYTES;
}
