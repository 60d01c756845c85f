import { expect } from 'chai';
import fc from 'fast-check';
import { ExactWindowModel, leastRetryDelay, leastRetryDelayByScan, usedAt } from './support/model';

// The contract trusts the reference model; these tests check the model itself, against the SPEC's
// own words and against a second-by-second scan.
describe('the reference model of the exact window (test support)', () => {
  it('finds the same retryAfter as trying every second, for small windows', () => {
    const recordArb = fc.record({ at: fc.integer({ min: 0, max: 40 }), cost: fc.integer({ min: 1, max: 4 }) });
    fc.assert(
      fc.property(
        fc.array(recordArb, { maxLength: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 10 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 6 }),
        (records, windowSeconds, limit, cost, after) => {
          const e = Math.max(0, ...records.map((r) => r.at)) + after;
          const l = { limit, windowSeconds };
          expect(leastRetryDelay(records, e, l, cost)).to.equal(leastRetryDelayByScan(records, e, l, cost));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts records in (e - W, e] only', () => {
    const records = [
      { at: 10, cost: 1 },
      { at: 11, cost: 2 },
      { at: 20, cost: 4 },
    ];
    expect(usedAt(records, 20, 10)).to.equal(6); // 10 has left (20 - 10 = 10 is outside), 11 and 20 count
    expect(usedAt(records, 19, 10)).to.equal(3);
    expect(usedAt(records, 30, 10)).to.equal(0);
  });

  it("reproduces the SPEC's worked figures: late requests, denials that record nothing, and a window change", () => {
    const model = new ExactWindowModel({ limit: 3, windowSeconds: 10 });
    expect(model.check('a', 100, 1)).to.deep.include({ allowed: true, remaining: 2, resetAfter: 10, timestamp: 100 });
    expect(model.check('a', 104.9, 2)).to.deep.include({ allowed: true, remaining: 0, resetAfter: 6, timestamp: 104 });
    // Late: evaluated at the clock 104, not at 90.
    expect(model.check('a', 90, 1)).to.deep.include({ allowed: false, retryAfter: 6, resetAfter: 6, timestamp: 104 });
    // Denied at 108 records nothing and does not move the clock.
    expect(model.check('a', 108, 1)).to.deep.include({ allowed: false, retryAfter: 2, timestamp: 108 });
    expect(model.clockOf('a')).to.equal(104);
    expect(model.check('a', 110, 4)).to.deep.include({ allowed: false, retryAfter: Infinity });
    // A longer window at T = 104 keeps 100 and 104 (both inside (94, 104]).
    model.updateLimit('a', 3, 60);
    expect(model.check('a', 110, 1)).to.deep.include({ allowed: false, retryAfter: 50, resetAfter: 50 });
  });
});
