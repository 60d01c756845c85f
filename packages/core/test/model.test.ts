import { expect } from 'chai';
import fc from 'fast-check';
import { ExactWindowModel, leastDelay, leastDelayByScan, mostInAnyWindow, msOf, usedAt } from './support/model';

// The contract trusts the reference model; these tests check the model itself, against the SPEC's
// own words and against a ms-by-ms scan.
describe('the reference model of the exact window (test support)', () => {
  it('finds the same delays as trying every ms, for small windows and any bucket width', () => {
    const recordArb = fc.record({ slot: fc.integer({ min: 0, max: 400 }), cost: fc.integer({ min: 1, max: 4 }) });
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 12 }),
        fc.integer({ min: 1, max: 120 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 60 }),
        (records, windowMs, bucket, limit, cost, after) => {
          const g = Math.min(bucket, windowMs);
          const e = Math.max(0, ...records.map((r) => r.slot)) + after;
          const fits = (u: number): boolean => u + cost <= limit;
          if (cost <= limit) expect(leastDelay(records, e, windowMs, g, fits)).to.equal(leastDelayByScan(records, e, windowMs, g, fits));
          const used = usedAt(records, e, windowMs, g);
          if (used > 0) expect(leastDelay(records, e, windowMs, g, (u) => u < used)).to.equal(leastDelayByScan(records, e, windowMs, g, (u) => u < used));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts every bucket that holds a ms of (e - W, e]', () => {
    const records = [
      { slot: 10_000, cost: 1 },
      { slot: 11_000, cost: 2 },
      { slot: 20_000, cost: 4 },
    ];
    // g = 1: exactly the window.
    expect(usedAt(records, 20_000, 10_000, 1)).to.equal(6); // 10.000 has left (20 - 10 is outside), 11 and 20 count
    expect(usedAt(records, 19_999, 10_000, 1)).to.equal(3);
    expect(usedAt(records, 30_000, 10_000, 1)).to.equal(0);
    // g = 167 (the default for W = 10 s): 10.000 s sits in bucket 59 (9853..10019 ms), which holds
    // ms of the window (e - 10 s, e] until e = 20.018 s: at most g - 1 ms longer than W.
    expect(usedAt(records, 20_000, 10_000, 167)).to.equal(7);
    expect(usedAt(records, 20_018, 10_000, 167)).to.equal(7);
    expect(usedAt(records, 20_019, 10_000, 167)).to.equal(6);
  });

  it('floors timestamps to whole ms as written', () => {
    expect(msOf(1700000000.1239)).to.equal(1700000000123);
    expect(msOf(1700000000.123)).to.equal(1700000000123);
    expect(msOf(100.998)).to.equal(100998);
    expect(msOf(0.999_999)).to.equal(999);
    expect(msOf(0)).to.equal(0);
  });

  it("reproduces the SPEC's worked figures: late requests, denials that record nothing, and a window change", () => {
    const model = new ExactWindowModel({ limit: 3, windowSeconds: 10 }, 1);
    expect(model.check('a', 100, 1)).to.deep.include({ allowed: true, remaining: 2, resetAfter: 10, timestamp: 100 });
    expect(model.check('a', 104.9, 2)).to.deep.include({ allowed: true, remaining: 0, resetAfter: 5.1, timestamp: 104.9 });
    // Late: evaluated at the clock 104.9, not at 90.
    expect(model.check('a', 90, 1)).to.deep.include({ allowed: false, retryAfter: 5.1, resetAfter: 5.1, timestamp: 104.9 });
    // Denied at 108 records nothing and does not move the clock.
    expect(model.check('a', 108, 1)).to.deep.include({ allowed: false, retryAfter: 2, timestamp: 108 });
    expect(model.clockOf('a')).to.equal(104.9);
    expect(model.check('a', 110, 4)).to.deep.include({ allowed: false, retryAfter: Infinity });
    // A longer window at T = 104.9 keeps 100 and 104.9 (both inside (94.9, 104.9]).
    model.updateLimit('a', 3, 60);
    expect(model.check('a', 110, 1)).to.deep.include({ allowed: false, retryAfter: 50, resetAfter: 50 });
  });

  it('the issue example: with 1 s and default 17 ms buckets, 2L in 3 ms across a second boundary is no longer allowed', () => {
    const model = new ExactWindowModel({ limit: 3, windowSeconds: 1 });
    const allowed = [100.998, 100.998, 100.999, 101.0, 101.0, 101.001].map((t) => model.check('c', t, 1).allowed);
    expect(allowed).to.deep.equal([true, true, true, false, false, false]);
  });

  it('moves kept units to the bucket of the latest time they could have had when the window changes', () => {
    // W = 60 s: g = 1000 ms. Units at 10.5 s and 59.2 s; T = 59.2 s.
    const model = new ExactWindowModel({ limit: 10, windowSeconds: 60 });
    model.check('m', 10.5, 1);
    model.check('m', 59.2, 2);
    // To W = 1 s (g = 17): only the units counted at T under the old window stay (both), in buckets of
    // min(end of old bucket, T): 10.999 s and 59.2 s.
    model.updateLimit('m', 2, 1);
    expect(model.check('m', 59.3, 1)).to.deep.include({ allowed: false, remaining: 0 });
    // 10.999 is far outside (58.3, 59.3]; the 2 units at 59.2 (bucket 3482: 59.194..59.210) count while
    // (e - 1 s, e] holds 59.210, so until 60.209 s.
    expect(model.check('m', 60.209, 1)).to.deep.include({ allowed: false, retryAfter: 0.001 });
    expect(model.check('m', 60.21, 1)).to.deep.include({ allowed: true });
  });

  it('finds the most admitted in any window of W', () => {
    const admitted = [
      { at: 100_998, cost: 1 },
      { at: 100_999, cost: 2 },
      { at: 101_997, cost: 1 },
      { at: 101_998, cost: 5 },
    ];
    expect(mostInAnyWindow(admitted, 1000)).to.equal(8); // 100.999 .. 101.998 lie in (100.998, 101.998]
    expect(mostInAnyWindow(admitted, 999)).to.equal(6);
    expect(mostInAnyWindow(admitted, 998)).to.equal(6);
    expect(mostInAnyWindow(admitted, 1001)).to.equal(9);
    expect(mostInAnyWindow([], 1000)).to.equal(0);
  });
});
