import { expect } from 'chai';
import { CircuitBreaker, type BreakerOpenEvent } from '../src/faults/circuit-breaker';

/** A breaker on a clock the test moves by hand, recording every event in order. */
function makeBreaker(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
  let now = 1_000_000;
  const events: string[] = [];
  const opens: BreakerOpenEvent[] = [];
  const breaker = new CircuitBreaker({ ...options, now: () => now });
  breaker.on('open', (event: BreakerOpenEvent) => {
    events.push(`open:${event.reason}`);
    opens.push(event);
  });
  breaker.on('halfOpen', () => events.push('halfOpen'));
  breaker.on('close', () => events.push('close'));
  return {
    breaker,
    events,
    opens,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

function fail(breaker: CircuitBreaker, times: number): void {
  for (let i = 0; i < times; i++) {
    const permit = breaker.acquire();
    expect(permit).to.equal('call');
    breaker.failure(permit, new Error(`failure ${i}`));
  }
}

describe('fault: CircuitBreaker state machine', () => {
  it('stays closed below the run of consecutive failures, and a success resets the run', () => {
    const { breaker, events } = makeBreaker({ consecutiveFailures: 3, minimumCalls: 1000 });
    fail(breaker, 2);
    breaker.success(breaker.acquire());
    fail(breaker, 2);
    expect(breaker.state).to.equal('closed');
    expect(events).to.deep.equal([]);
  });

  it('opens after N consecutive failures, with the reason and the tipping error', () => {
    const { breaker, events, opens } = makeBreaker({ consecutiveFailures: 3, minimumCalls: 1000 });
    fail(breaker, 3);
    expect(breaker.state).to.equal('open');
    expect(events).to.deep.equal(['open:consecutive-failures']);
    expect((opens[0]?.error as Error).message).to.equal('failure 2');
    expect(breaker.acquire()).to.equal('denied');
  });

  it('opens on a failure rate over the rolling window even without a run of failures', () => {
    const { breaker, events } = makeBreaker({ consecutiveFailures: 100, failureRate: 0.5, minimumCalls: 10, rollingWindowMs: 1000 });
    // Alternating success/failure: never two failures in a row, but half of all calls fail.
    for (let i = 0; i < 9; i++) {
      const permit = breaker.acquire();
      if (i % 2 === 0) breaker.failure(permit, new Error('x'));
      else breaker.success(permit);
    }
    expect(breaker.state).to.equal('closed'); // 9 calls < minimumCalls
    breaker.success(breaker.acquire()); // 10 calls, 5 failures: judged on the next failure
    expect(breaker.state).to.equal('closed');
    breaker.failure(breaker.acquire(), new Error('x')); // 11 calls, 6 failures >= 50%
    expect(events).to.deep.equal(['open:failure-rate']);
  });

  it('forgets failures older than the rolling window', () => {
    const { breaker, advance } = makeBreaker({ consecutiveFailures: 100, failureRate: 0.5, minimumCalls: 4, rollingWindowMs: 1000 });
    fail(breaker, 3);
    breaker.success(breaker.acquire());
    advance(1100); // the 3 failures have left the window
    breaker.success(breaker.acquire());
    breaker.success(breaker.acquire());
    breaker.success(breaker.acquire());
    breaker.failure(breaker.acquire(), new Error('x')); // 1 of 4 in the window: 25%
    expect(breaker.state).to.equal('closed');
    breaker.failure(breaker.acquire(), new Error('x')); // 2 of 5: 40%
    expect(breaker.state).to.equal('closed');
    breaker.failure(breaker.acquire(), new Error('x')); // 3 of 6: 50%
    expect(breaker.state).to.equal('open');
  });

  it('half-opens after resetTimeoutMs and lets exactly one probe through among many concurrent callers', () => {
    const { breaker, events, advance } = makeBreaker({ consecutiveFailures: 2, resetTimeoutMs: 500 });
    fail(breaker, 2);
    advance(499);
    expect(breaker.acquire()).to.equal('denied');
    advance(1);
    expect(breaker.state).to.equal('half-open');
    const permits = Array.from({ length: 50 }, () => breaker.acquire());
    expect(permits.filter((p) => p === 'probe')).to.have.length(1);
    expect(permits[0]).to.equal('probe');
    expect(permits.filter((p) => p === 'denied')).to.have.length(49);
    expect(events).to.deep.equal(['open:consecutive-failures', 'halfOpen']);
  });

  it('closes when the probe succeeds, and calls flow again', () => {
    const { breaker, events, advance } = makeBreaker({ consecutiveFailures: 1, resetTimeoutMs: 100 });
    fail(breaker, 1);
    advance(100);
    const probe = breaker.acquire();
    breaker.success(probe);
    expect(breaker.state).to.equal('closed');
    expect(breaker.acquire()).to.equal('call');
    expect(events).to.deep.equal(['open:consecutive-failures', 'halfOpen', 'close']);
  });

  it('reopens when the probe fails, doubling the wait each time up to maxResetTimeoutMs; closing starts over', () => {
    const { breaker, events, advance } = makeBreaker({ consecutiveFailures: 1, resetTimeoutMs: 100, maxResetTimeoutMs: 350 });
    fail(breaker, 1);
    const waits: number[] = [];
    for (let round = 0; round < 4; round++) {
      let waited = 0;
      while (breaker.acquire() === 'denied' && waited < 10_000) {
        advance(10);
        waited += 10;
      }
      waits.push(waited);
      breaker.failure('probe', new Error('still down'));
    }
    expect(waits).to.deep.equal([100, 200, 350, 350]);
    expect(events.filter((e) => e === 'open:probe-failed')).to.have.length(4);
    advance(350);
    breaker.success(breaker.acquire());
    expect(breaker.state).to.equal('closed');
    fail(breaker, 1);
    expect(breaker.waitMs).to.equal(100);
  });

  it('ignores late results of calls admitted before it opened: only the probe decides', () => {
    const { breaker, events, advance } = makeBreaker({ consecutiveFailures: 2, resetTimeoutMs: 100 });
    const slow = breaker.acquire(); // admitted while closed, answers late
    fail(breaker, 2);
    breaker.success(slow); // a late success while open must not close it
    expect(breaker.state).to.equal('open');
    advance(100);
    const probe = breaker.acquire();
    const stale = 'call' as const;
    breaker.success(stale); // a stale 'call' success while half-open is ignored too
    expect(breaker.state).to.equal('half-open');
    expect(breaker.acquire()).to.equal('denied'); // the probe is still out
    breaker.success(probe);
    expect(breaker.state).to.equal('closed');
    expect(events).to.deep.equal(['open:consecutive-failures', 'halfOpen', 'close']);
  });

  it('after closing, needs a full new run of failures to open again', () => {
    const { breaker, advance } = makeBreaker({ consecutiveFailures: 3, resetTimeoutMs: 10, minimumCalls: 1000 });
    fail(breaker, 3);
    advance(10);
    breaker.success(breaker.acquire());
    fail(breaker, 2);
    expect(breaker.state).to.equal('closed');
    fail(breaker, 1);
    expect(breaker.state).to.equal('open');
  });

  it('reset() closes at once', () => {
    const { breaker, events } = makeBreaker({ consecutiveFailures: 1 });
    fail(breaker, 1);
    breaker.reset();
    expect(breaker.acquire()).to.equal('call');
    expect(events).to.deep.equal(['open:consecutive-failures', 'close']);
  });

  it('refuses bad options with TypeError/RangeError naming the option and the value', () => {
    expect(() => new CircuitBreaker({ consecutiveFailures: 0 })).to.throw(RangeError, /breaker options\.consecutiveFailures .*got number 0/);
    expect(() => new CircuitBreaker({ failureRate: 1.5 })).to.throw(RangeError, /breaker options\.failureRate .*got number 1\.5/);
    expect(() => new CircuitBreaker({ resetTimeoutMs: '1s' as unknown as number })).to.throw(TypeError, /resetTimeoutMs .*got string "1s"/);
    expect(() => new CircuitBreaker({ resetTimout: 5 } as unknown as object)).to.throw(TypeError, /resetTimout/);
    expect(() => new CircuitBreaker({ resetTimeoutMs: 500, maxResetTimeoutMs: 400 })).to.throw(RangeError, /resetTimeoutMs \(500\) must not exceed maxResetTimeoutMs \(400\)/);
    expect(new CircuitBreaker({ resetTimeoutMs: 5000 }).waitMs, 'a longer first wait raises the cap with it').to.equal(5000);
  });
});
