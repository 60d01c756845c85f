// What the accuracy suite reports for one limiter on one trace, from the requests it admitted.

/**
 * @param events the trace [{ t (ms), client }]
 * @param admitted a boolean per event (same order)
 * @param tMs optional per-event time actually used (real-time replays), defaults to the trace time
 */
export function accuracyMetrics({ events, admitted, L, W, tMs }) {
  const byClient = new Map();
  events.forEach((e, i) => {
    let c = byClient.get(e.client);
    if (!c) byClient.set(e.client, (c = { offered: [], admitted: [] }));
    const t = tMs ? tMs[i] : e.t;
    c.offered.push(t);
    if (admitted[i]) c.admitted.push(t);
  });
  let maxSeconds = 0;
  let maxReal = 0;
  let shareSum = 0;
  let shareCount = 0;
  let realShareSum = 0;
  let realShareCount = 0;
  let admittedTotal = 0;
  let lastSecond = 0;
  for (const c of byClient.values()) for (const t of c.offered) lastSecond = Math.max(lastSecond, Math.floor(t / 1000));
  for (const c of byClient.values()) {
    admittedTotal += c.admitted.length;
    // Whole-second axis (the SPEC's: timestamps floored to seconds, windows (s - W, s]).
    const offered = new Int32Array(lastSecond + 1);
    const taken = new Int32Array(lastSecond + 1);
    for (const t of c.offered) offered[Math.max(0, Math.floor(t / 1000))]++;
    for (const t of c.admitted) taken[Math.max(0, Math.floor(t / 1000))]++;
    let inOffered = 0;
    let inTaken = 0;
    for (let s = 0; s <= lastSecond; s++) {
      inOffered += offered[s];
      inTaken += taken[s];
      if (s - W >= 0) {
        inOffered -= offered[s - W];
        inTaken -= taken[s - W];
      }
      if (inTaken > maxSeconds) maxSeconds = inTaken;
      if (inOffered > L) {
        shareSum += Math.min(inTaken, L) / L;
        shareCount++;
      }
    }
    // Real time in milliseconds: any interval (t - W, t].
    const a = c.admitted.slice().sort((x, y) => x - y);
    for (let lo = 0, hi = 0; hi < a.length; hi++) {
      while (a[lo] <= a[hi] - W * 1000) lo++;
      if (hi - lo + 1 > maxReal) maxReal = hi - lo + 1;
    }
    // Share of L used in real time: at every offered request's time t where (t - W, t] offered more
    // than L, min(admitted in it, L) / L.
    const o = c.offered.slice().sort((x, y) => x - y);
    for (let lo = 0, hi = 0, aLo = 0, aHi = 0; hi < o.length; hi++) {
      const t = o[hi];
      while (o[lo] <= t - W * 1000) lo++;
      while (aHi < a.length && a[aHi] <= t) aHi++;
      while (aLo < aHi && a[aLo] <= t - W * 1000) aLo++;
      if (hi - lo + 1 > L) {
        realShareSum += Math.min(aHi - aLo, L) / L;
        realShareCount++;
      }
    }
  }
  return {
    max_window_over_L: Math.round((maxSeconds / L) * 100) / 100,
    max_realtime_over_L: Math.round((maxReal / L) * 100) / 100,
    over_admitted: Math.max(0, maxSeconds - L),
    used_share_when_over: shareCount ? Math.round((shareSum / shareCount) * 1000) / 1000 : null,
    used_share_realtime: realShareCount ? Math.round((realShareSum / realShareCount) * 1000) / 1000 : null,
    admitted: admittedTotal,
    offered: events.length,
    clients: byClient.size,
  };
}
