import { isIP, isIPv4, isIPv6 } from 'node:net';

/**
 * The rate-limit key of a client address.
 *
 * - IPv4 stays as it is.
 * - IPv4 carried in IPv6 becomes that IPv4 address: the mapped range `::ffff:0:0/96` in dotted
 *   (`::ffff:1.2.3.4`) or hex (`::ffff:102:304`) form, and the NAT64 well-known prefix
 *   `64:ff9b::/96`. A dual-stack server sees every IPv4 client this way; grouping those by an
 *   IPv6 subnet would put all IPv4 clients under one key (express-rate-limit's CVE-2026-30827).
 * - The rest of `::/96` (`::`, `::1`, deprecated IPv4-compatible addresses) is keyed whole, never grouped,
 *   for the same reason.
 * - Any other IPv6 address is grouped by its first `ipv6Subnet` bits: `2001:db8:1:ff00::/56`.
 *   A zone (`fe80::1%eth0`) is dropped.
 *
 * Anything that is not an IP address (a Unix socket, a test double) is returned unchanged.
 */
export function ipKey(ip: string, ipv6Subnet: number | false = 56): string {
  if (isIPv4(ip)) return ip;
  const zone = ip.indexOf('%');
  const address = zone === -1 ? ip : ip.slice(0, zone);
  if (!isIPv6(address)) return ip;
  const groups = parseIPv6(address);
  if (groups[0] === 0 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0 && groups[4] === 0) {
    if (groups[5] === 0xffff) return ipv4Of(groups);
    if (groups[5] === 0) return formatIPv6(groups);
  }
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups[2] === 0 && groups[3] === 0 && groups[4] === 0 && groups[5] === 0) {
    return ipv4Of(groups);
  }
  if (ipv6Subnet === false || ipv6Subnet >= 128) return formatIPv6(groups);
  return `${formatIPv6(maskIPv6(groups, ipv6Subnet))}/${ipv6Subnet}`;
}

/** The address itself with IPv4-in-IPv6 unwrapped, for allow lists that name whole addresses. */
export function normalizeIp(ip: string): string {
  return ipKey(ip, false);
}

/** Eight 16-bit groups of a valid IPv6 address (already checked with `isIPv6`). */
function parseIPv6(address: string): number[] {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded dotted IPv4 tail is two groups.
    const [a = 0, b = 0, c = 0, d = 0] = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...new Array<string>(zeros).fill('0'), ...right].map((group) => parseInt(group, 16));
}

function maskIPv6(groups: number[], bits: number): number[] {
  return groups.map((group, i) => {
    const keep = Math.min(16, Math.max(0, bits - i * 16));
    return keep === 0 ? 0 : group & ((0xffff << (16 - keep)) & 0xffff);
  });
}

function ipv4Of(groups: number[]): string {
  const high = groups[6] ?? 0;
  const low = groups[7] ?? 0;
  return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
}

/** RFC 5952 text: lower case, no leading zeros, the longest run (2+) of zero groups as `::`. */
function formatIPv6(groups: number[]): string {
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** True when `address` is an IPv4 or IPv6 address (an IPv6 zone, `fe80::1%eth0`, allowed). */
export function isIpAddress(address: string): boolean {
  if (isIP(address) !== 0) return true;
  const zone = address.indexOf('%');
  return zone > 0 && isIPv6(address.slice(0, zone));
}

/** A trust-proxy function as proxy-addr takes it (and Express compiles 'trust proxy' into). */
export type TrustFunction = (address: string, hop: number) => boolean;

/** Public documentation addresses (RFC 5737, RFC 3849): no list of one's own proxies names them. */
const PROBE_ADDRESSES = ['198.51.100.23', '2001:db8::23'];
/** More hops than any real proxy chain has, with the first ones. */
const PROBE_HOPS = [0, 1, 2, 7, 64];
const permissive = new WeakMap<TrustFunction, boolean>();

/**
 * True when `trust` trusts a public address at every hop (`true`, `'0.0.0.0/0'`, a hop count of 65
 * or more, a function that says yes to all): the client address is then the left end of
 * X-Forwarded-For, which any client writes, so a client picks its own rate-limit key. Remembered
 * per function: adapters ask on every request until they have warned.
 */
export function trustsAnyProxy(trust: TrustFunction): boolean {
  let answer = permissive.get(trust);
  if (answer === undefined) {
    try {
      answer = PROBE_ADDRESSES.some((address) => PROBE_HOPS.every((hop) => trust(address, hop) === true));
    } catch {
      answer = false;
    }
    permissive.set(trust, answer);
  }
  return answer;
}

/**
 * A request as a trust-proxy-aware `ip` getter reads it (headers and socket), made to have passed
 * through `PROXY_PROBE.hops` public hops: a framework whose getter answers `PROXY_PROBE.client` for
 * it trusts any proxy. For frameworks that keep their trust function to themselves (Fastify).
 */
export const PROXY_PROBE = {
  client: '198.51.100.1',
  forwardedFor: Array.from({ length: 8 }, (_, i) => `198.51.100.${i + 1}`).join(', '),
  socketAddress: '198.51.100.99',
} as const;
