/** Percentile of an already sorted numeric array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/** p50/p99/p99.9/max of a sample of durations in nanoseconds, returned in microseconds. */
export function latencySummaryUs(samplesNs) {
  const sorted = Float64Array.from(samplesNs).sort();
  const us = (ns) => Math.round(ns / 10) / 100;
  return {
    p50_us: us(percentile(sorted, 50)),
    p99_us: us(percentile(sorted, 99)),
    p999_us: us(percentile(sorted, 99.9)),
    max_us: us(sorted[sorted.length - 1] ?? NaN),
    samples: sorted.length,
  };
}

/** A ratio rounded for quoting; null when either side is missing. */
export function ratio(a, b) {
  if (a == null || b == null || !Number.isFinite(a) || !Number.isFinite(b) || b === 0) return null;
  return Math.round((a / b) * 100) / 100;
}

export function round(value, digits = 0) {
  if (value == null || !Number.isFinite(value)) return value ?? null;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Human formatting for tables: thousands separators, fixed decimals, and '-' for missing values. */
export function fmt(value, digits = 0) {
  if (value === null || value === undefined) return '-';
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (!Number.isFinite(value)) return String(value);
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/**
 * The run with the median `key` among repeated runs of one thing (rounds interleaved with the other subjects,
 * so a burst of background load tints every subject alike), with the spread of `key` beside it. With an even
 * number of runs it is the lower of the two middle runs (a measured run, never an average of two).
 */
export function medianRun(runs, key) {
  const numeric = runs.filter((r) => typeof r[key] === 'number');
  if (numeric.length === 0) return runs[0];
  const sorted = numeric.slice().sort((a, b) => a[key] - b[key]);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  return { ...median, rounds: runs.length, [`${key}_min`]: sorted[0][key], [`${key}_max`]: sorted[sorted.length - 1][key] };
}

/**
 * The median of per-round ratios a[i] / b[i] of two subjects measured in the same rounds (rounds interleave
 * the subjects, so the two runs of a pair are seconds apart): a machine whose speed drifts from one minute to
 * the next moves both sides of a pair alike. Pairs with a missing side are left out; null when none is left.
 * Lower median when even, as `medianRun`.
 */
export function pairedRatio(a, b) {
  const ratios = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (typeof a[i] === 'number' && typeof b[i] === 'number' && b[i] > 0) ratios.push(a[i] / b[i]);
  }
  if (ratios.length === 0) return null;
  ratios.sort((x, y) => x - y);
  return Math.round(ratios[Math.floor((ratios.length - 1) / 2)] * 100) / 100;
}

/** The median of the numbers in `values` (nulls left out), lower median when even; null when none. */
export function median(values) {
  const numbers = values.filter((v) => typeof v === 'number' && Number.isFinite(v)).sort((a, b) => a - b);
  return numbers.length === 0 ? null : numbers[Math.floor((numbers.length - 1) / 2)];
}
