import { expect } from 'chai';
import { DeadlineQueue } from '../src/faults/deadline-queue';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // A stall of this process (GC, a busy CPU), as the queue must tell from a slow store.
  }
}

function timers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('DeadlineQueue: the deadlines of calls in flight on one timer', () => {
  it('expires, in order, only what was not settled in time; a settle after the deadline says it was late', async () => {
    const queue = new DeadlineQueue(150);
    const expired: number[] = [];
    const deadlines = [0, 1, 2, 3].map((i) => queue.add(() => expired.push(i)));
    await sleep(80);
    const later = queue.add(() => expired.push(4));
    expect(queue.settle(deadlines[1]!)).to.equal(true);
    expect(queue.settle(deadlines[1]!), 'a second settle changes nothing').to.equal(false);
    await sleep(110);
    // 0, 2 and 3 passed their deadline; 4 was added 80 ms later and has not.
    expect(expired).to.deep.equal([0, 2, 3]);
    expect(queue.settle(deadlines[2]!), 'answered after its deadline').to.equal(false);
    await sleep(120);
    expect(expired).to.deep.equal([0, 2, 3, 4]);
    expect(queue.settle(later)).to.equal(false);
  });

  it('an answer read in the same turn as the due timer wins: expiry waits for the I/O of that turn', async () => {
    const queue = new DeadlineQueue(20);
    let expired = false;
    const deadline = queue.add(() => {
      expired = true;
    });
    // A timer due at the same time as the deadline's: it runs in the same timers phase, before the expiry.
    setTimeout(() => expect(queue.settle(deadline)).to.equal(true), 20);
    await sleep(50);
    expect(expired).to.equal(false);
  });

  it('a deadline passed by a whole timeout while this process stalled gets one more timeout, once', async () => {
    const queue = new DeadlineQueue(100);
    let expiredAt = 0;
    const start = performance.now();
    queue.add(() => {
      expiredAt = performance.now() - start;
    });
    // Due at 100 ms, first looked at after 220 ms: moved to 100 ms after that look.
    busyWait(220);
    await sleep(20);
    expect(expiredAt, 'not expired at the first late look').to.equal(0);
    while (expiredAt === 0) await sleep(10);
    expect(expiredAt).to.be.greaterThan(315);
  });

  it('holds no timer once nothing is pending, so an idle process can exit', async () => {
    const before = timers();
    const queue = new DeadlineQueue(1000);
    const a = queue.add(() => undefined);
    const b = queue.add(() => undefined);
    expect(timers()).to.equal(before + 1);
    queue.settle(b);
    expect(timers()).to.equal(before + 1);
    queue.settle(a);
    expect(timers()).to.equal(before);
    await sleep(1);
  });

  it('thousands in flight, settled in any order: each expires or settles exactly once', async () => {
    const queue = new DeadlineQueue(25);
    let expired = 0;
    const deadlines = Array.from({ length: 5000 }, () => queue.add(() => expired++));
    let settled = 0;
    // Every other one answered in time, in reverse order.
    for (let i = deadlines.length - 1; i >= 0; i -= 2) if (queue.settle(deadlines[i]!)) settled++;
    await sleep(60);
    expect(settled).to.equal(2500);
    expect(expired).to.equal(2500);
    expect(timers()).to.be.at.most(1);
  });
});
