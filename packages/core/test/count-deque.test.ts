import { expect } from 'chai';
import { CountDeque } from '../src/algorithms/count-deque';

describe('CountDeque: each client owns its records', () => {
  it('an insert into one empty deque leaves every other deque empty (regression: a shared empty buffer leaked settles across clients)', () => {
    const settled = new CountDeque();
    const other = new CountDeque();
    settled.insert(100, 5);
    expect(settled.total).to.equal(5);
    expect(other.buf).to.deep.equal([]);
    expect(other.total).to.equal(0);
    // Pruned back to empty and written again: still no sharing.
    settled.prune(200);
    settled.insert(300, 1);
    const fresh = new CountDeque();
    expect(fresh.buf).to.deep.equal([]);
    expect(other.buf).to.deep.equal([]);
  });

  it('insert keeps the buffer sorted and merges a second that is already recorded', () => {
    const d = new CountDeque();
    d.record(10, 1, true);
    d.record(12, 1, true);
    d.insert(11, 2);
    d.insert(12, 3);
    d.insert(9, 1);
    expect(d.buf).to.deep.equal([9, 1, 10, 1, 11, 2, 12, 4]);
    expect(d.total).to.equal(8);
  });
});
