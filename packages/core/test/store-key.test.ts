import { createHash } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { MAX_CLIENT_ID_BYTES, MemoryStore, storeKey } from '../src/index';
import { HttpLimiter } from '../src/http/http-limiter';

// The adapters' store keys are one-to-one: no two (limiter prefix, client key) pairs share a key,
// whatever the names, prefixes and lengths, so no client can share another's window or own limit.

/** Characters that matter to the encoding, and some that take several UTF-8 bytes. */
const char = fc.constantFrom('a', 'b', ':', '~', '#', '0', '1', '4', ' ', 'é', '€', '😀', 's', 'h', '2', '5', '6', '\uD800');
const text = (minLength: number) =>
  fc.oneof(
    fc.string({ unit: char, minLength, maxLength: 12 }),
    // Long enough to be hashed (over 1,024 bytes with or without the prefix), or just around the edge.
    fc.tuple(fc.string({ unit: char, minLength: 1, maxLength: 4 }), fc.integer({ min: 250, max: 1100 })).map(([s, n]) => s.repeat(Math.ceil(n / s.length)).slice(0, n)),
  );
const prefix = fc.oneof(fc.constant(''), fc.string({ unit: char, maxLength: 8 }), fc.string({ unit: char, maxLength: 8 }).map((s) => `${s}:`));

describe('http store keys: one key per (limiter, client key)', () => {
  it('the collisions found in review are gone', () => {
    expect(storeKey('a:', 'b:x')).not.to.equal(storeKey('a:b:', 'x'));
    // An unnamed limiter's api:alice and the api limiter's alice.
    expect(storeKey('', 'api:alice')).not.to.equal(storeKey('api:', 'alice'));
    // A short key cannot spell a long key's hashed form.
    const long = 'k'.repeat(2000);
    const hashed = storeKey('', long);
    expect(hashed).to.equal(`~0#${createHash('sha256').update(long).digest('hex')}`);
    expect(storeKey('', hashed)).not.to.equal(hashed);
    expect(storeKey('', `sha256:${createHash('sha256').update(long).digest('hex')}`)).not.to.equal(hashed);
    // An unnamed limiter's keys stay as they are, unless they start with the framing character.
    expect(storeKey('', '203.0.113.7')).to.equal('203.0.113.7');
    expect(storeKey('', '~4:api:alice')).not.to.equal(storeKey('api:', 'alice'));
  });

  it('property: distinct (prefix, client key) pairs never share a store key, and every key fits a store', () => {
    fc.assert(
      fc.property(prefix, text(1), prefix, text(1), (p1, k1, p2, k2) => {
        const a = storeKey(p1, k1);
        const b = storeKey(p2, k2);
        for (const key of [a, b]) expect(Buffer.byteLength(key, 'utf8')).to.be.at.most(MAX_CLIENT_ID_BYTES);
        if (p1 === p2 && k1 === k2) expect(a).to.equal(b);
        else expect(a, `${JSON.stringify([p1.slice(0, 20), k1.slice(0, 20)])} vs ${JSON.stringify([p2.slice(0, 20), k2.slice(0, 20)])}`).not.to.equal(b);
      }),
      { numRuns: 20_000 },
    );
  });

  it('property: pairs built to collide under plain concatenation (same prefix + key string) stay apart', () => {
    fc.assert(
      fc.property(fc.string({ unit: char, minLength: 2, maxLength: 16 }), fc.nat(), fc.nat(), (whole, i, j) => {
        // Two ways to cut one string into prefix + key.
        const [cut1, cut2] = [1 + (i % (whole.length - 1)), 1 + (j % (whole.length - 1))];
        fc.pre(cut1 !== cut2);
        expect(storeKey(whole.slice(0, cut1), whole.slice(cut1))).not.to.equal(storeKey(whole.slice(0, cut2), whole.slice(cut2)));
        expect(storeKey('', whole)).not.to.equal(storeKey(whole.slice(0, cut1), whole.slice(cut1)));
      }),
      { numRuns: 5_000 },
    );
  });

  it('two middlewares on one store, named so their plain keys would collide, keep separate windows', async () => {
    const store = new MemoryStore({ sweepIntervalMs: 0 });
    const access = { ip: () => undefined, forwardedForIgnored: () => false };
    const keyed = (options: Record<string, unknown>) =>
      new HttpLimiter<{ key: string }, never>({ limit: 1, windowSeconds: 60, store, keyGenerator: (req: { key: string }) => req.key, ...options }, access, 'test');
    const unnamed = keyed({});
    const api = keyed({ name: 'api' });
    const kinds = async (http: HttpLimiter<{ key: string }, never>, key: string) => (await http.evaluate({ key })).kind;
    expect(await kinds(unnamed, 'api:alice')).to.equal('allowed');
    expect(await kinds(api, 'alice'), 'not the unnamed limiter\'s api:alice').to.equal('allowed');
    expect(await kinds(api, 'alice')).to.equal('limited');
    for (const http of [unnamed, api]) await http.close();
    await store.close();
  });
});
