// One round of a multi-process decider: `concurrency` checks of the hot client at once, summed up as the tests
// read them: { allowed: [ms...], firstAllowedAt, fallback, denied, lease }.
export async function decideRound(limiter, concurrency) {
  const batch = [];
  // Each decision with the real time it was answered at (a request's effective time may be older).
  for (let i = 0; i < concurrency; i++) batch.push(limiter.check('hot').then((d) => [d, Date.now()]));
  const round = { allowed: [], firstAllowedAt: undefined, fallback: 0, denied: 0, lease: 0 };
  for (const [d, answeredAt] of await Promise.all(batch)) {
    if (d.source === 'fallback') round.fallback++;
    else if (d.allowed) {
      round.allowed.push(Math.round(d.timestamp * 1000));
      round.firstAllowedAt = Math.min(round.firstAllowedAt ?? Infinity, answeredAt);
    } else round.denied++;
    if (d.source === 'lease') round.lease++;
  }
  return round;
}
