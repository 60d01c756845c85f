import { expect } from 'chai';
import fc from 'fast-check';
import { decimal } from '../src/http/decimal';

describe('http decimal (header counts without the number-to-string cache)', () => {
  it('writes whole numbers as String does, at every group boundary', () => {
    for (const n of [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1010, 1100, 999_999, 1_000_000, 1_000_001, 999_999_999, 1_000_000_000, 1_700_000_060, Number.MAX_SAFE_INTEGER]) {
      expect(decimal(n), String(n)).to.equal(String(n));
    }
  });

  it('writes any safe integer as String does', () => {
    fc.assert(fc.property(fc.maxSafeNat(), (n) => decimal(n) === String(n)), { numRuns: 5000 });
  });

  it('leaves fractions, negatives, -0, NaN, infinities and unsafe integers to String', () => {
    for (const n of [0.5, 1e-7, -1, -1000, -0, Number.NaN, Infinity, -Infinity, 2 ** 53, 1e21]) {
      expect(decimal(n), String(n)).to.equal(String(n));
    }
    fc.assert(fc.property(fc.double(), (n) => decimal(n) === String(n)), { numRuns: 2000 });
  });
});
