// A tiny Date shim for peers that read the wall clock (Date.now() and new Date()): the accuracy suite sets the
// time before each request, so a trace of minutes replays in milliseconds with no timers involved. Installed
// only inside the child process that replays a trace, and only around the peers.

export function installFakeDate(startMs) {
  const RealDate = globalThis.Date;
  let nowMs = startMs;
  class FakeDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(nowMs);
      else super(...args);
    }
    static now() {
      return nowMs;
    }
  }
  globalThis.Date = FakeDate;
  return {
    set(ms) {
      nowMs = ms;
    },
    now: () => nowMs,
    restore() {
      globalThis.Date = RealDate;
    },
  };
}
