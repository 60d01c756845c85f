import { expect } from 'chai';
import { CountDeque, slidingWindowEngine } from '../src/algorithms/count-deque';

describe('CountDeque: each client owns its records', () => {
  it('an insert into one empty deque leaves every other deque empty (regression: a shared empty buffer leaked settles across clients)', () => {
    const settled = new CountDeque();
    const other = new CountDeque();
    settled.insert(100, 5);
    expect(settled.total).to.equal(5);
    expect(records(other)).to.deep.equal([]);
    expect(other.total).to.equal(0);
    // Pruned back to empty and written again: still no sharing.
    settled.prune(200);
    settled.insert(300, 1);
    const fresh = new CountDeque();
    expect(records(fresh)).to.deep.equal([]);
    expect(records(other)).to.deep.equal([]);
  });

  it('insert keeps the buffer sorted and merges a bucket that is already recorded', () => {
    const d = new CountDeque();
    d.record(10, 1, true);
    d.record(12, 1, true);
    d.insert(11, 2);
    d.insert(12, 3);
    d.insert(9, 1);
    expect(records(d)).to.deep.equal([9, 1, 10, 1, 11, 2, 12, 4]);
    expect(d.total).to.equal(8);
  });
});

describe('CountDeque: one recorded bucket is kept without an array', () => {
  it('keeps a single bucket inline, moves to an array at the second distinct bucket, and back after pruning', () => {
    const d = new CountDeque();
    d.record(100, 2, true);
    d.record(100, 1, true);
    expect([d.buf, records(d), d.total]).to.deep.equal([undefined, [100, 3], 3]);
    d.record(101, 1, true);
    expect([d.buf !== undefined, records(d), d.total]).to.deep.equal([true, [100, 3, 101, 1], 4]);
    expect([d.unitsAfter(100), d.oldestAfter(100), d.oldestAfter(99)]).to.deep.equal([1, 101, 100]);
    d.prune(101);
    expect([d.buf, records(d), d.total, d.oldestAfter(0)]).to.deep.equal([undefined, [], 0, -1]);
  });

  it('answers every question about an inline record as the array form does', () => {
    const inline = new CountDeque();
    inline.record(50, 4, true);
    const array = new CountDeque();
    array.record(40, 1, true);
    array.record(50, 4, true);
    array.prune(40); // the same single record, now held in an array
    expect(records(array)).to.deep.equal(records(inline));
    for (const horizon of [48, 49, 50, 51]) {
      expect(inline.unitsAfter(horizon)).to.equal(array.unitsAfter(horizon));
      expect(inline.oldestAfter(horizon)).to.equal(array.oldestAfter(horizon));
    }
    for (const target of [0, 1, 3]) expect(inline.delayUntilAtMost(target, 55, 10, 1)).to.equal(array.delayUntilAtMost(target, 55, 10, 1));
    inline.remove(50, 3);
    array.remove(50, 3);
    expect([records(inline), inline.total]).to.deep.equal([records(array), array.total]);
    inline.insert(45, 2);
    array.insert(45, 2);
    expect([records(inline), inline.total]).to.deep.equal([records(array), array.total]);
  });
});

describe('CountDeque: a new bucket width moves each unit to the bucket of the latest time it could have had', () => {
  it('maps each record to min(end of its old bucket, clock) under the new width, merging, never earlier', () => {
    const d = new CountDeque();
    d.g = 1000;
    d.record(10, 1, true); // 10.000 .. 10.999 s
    d.record(11, 2, true); // 11.000 .. 11.999 s
    d.record(13, 4, true); // 13.000 .. 13.999 s, holding the clock
    d.clock = 13_250;
    d.rebucket(17);
    // Ends 10_999 and 11_999 map to buckets 647 (10_999 .. 11_015) and 705 (11_985 .. 12_001); the clock's
    // record to the clock's own bucket, 779 (13_243 .. 13_259), not the end of its old bucket.
    expect(records(d)).to.deep.equal([647, 1, 705, 2, 779, 4]);
    expect([d.total, d.g]).to.deep.equal([7, 17]);
    // To a wider width: merged where old buckets fall together.
    d.rebucket(5000);
    expect(records(d)).to.deep.equal([2, 7]);
    expect(d.total).to.equal(7);
  });

  it('an exact end on a boundary stays in the bucket it ends (regression guard for off-by-one)', () => {
    const d = new CountDeque();
    d.g = 10;
    d.record(1, 3, true); // 10 .. 19 ms
    d.clock = 1_000;
    d.rebucket(20); // 19 ms is in bucket 0 (0 .. 19) of the new width
    expect(records(d)).to.deep.equal([0, 3]);
    d.rebucket(19); // 19 ms is in bucket 1 (19 .. 37)
    expect(records(d)).to.deep.equal([1, 3]);
  });
});

function records(d: CountDeque): number[] {
  const pairs: number[] = [];
  d.forEachRecord((second, units) => pairs.push(second, units));
  return pairs;
}

describe('CountDeque: memory is O(1) a client, whatever W and L', () => {
  it('a client active in 20,000 distinct seconds of a one-day window keeps at most ceil(W / g) + 1 = 61 records', () => {
    const d = slidingWindowEngine.create();
    const W = 86_400;
    const g = Math.ceil((W * 1000) / 60);
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      const timestamp = 1_700_000_000_000 + i * 4_321; // every 4.3 s: 20,000 distinct seconds over a day
      slidingWindowEngine.check(d, { timestamp, cost: 1, limit: 1_000_000, windowSeconds: W, g, extra: 0 });
      const live = d.buf === undefined ? 1 : (d.buf.length - d.head) / 2;
      most = Math.max(most, live);
      // The dead front is dropped once it is as long as the live part (and at least 32 records).
      if (d.buf !== undefined) expect(d.buf.length / 2, `array at request ${i}`).to.be.at.most(2 * 61 + 32);
    }
    expect(most).to.be.at.most(Math.ceil((W * 1000) / g) + 1);
    expect(most).to.be.at.least(59);
  });
});
