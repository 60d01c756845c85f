// Command-line and environment settings shared by every suite. Sizes come from here, never from constants
// buried in a suite, so a rerun on a quiet machine can scale them without editing code.

/** Parses `--name=value`, `--flag` and `--no-flag` into an object (values stay strings, flags become booleans). */
export function parseArgs(argv) {
  const out = {};
  for (const arg of argv) {
    if (!arg.startsWith('--')) continue;
    const eq = arg.indexOf('=');
    if (eq === -1) {
      const name = arg.slice(2);
      if (name.startsWith('no-')) out[camel(name.slice(3))] = false;
      else out[camel(name)] = true;
    } else {
      out[camel(arg.slice(2, eq))] = arg.slice(eq + 1);
    }
  }
  return out;
}

function camel(name) {
  return name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());
}

/**
 * A number setting: `--name=value` wins over the environment variable `BENCH_NAME`, which wins over the
 * default for the mode (quick or full). Accepts 1e6 and 1_000_000.
 */
export function numberSetting(args, name, { quick, full }, isQuick) {
  const env = process.env[`BENCH_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`];
  const raw = args[name] ?? env;
  if (raw === undefined || raw === true) return isQuick ? quick : full;
  const value = Number(String(raw).replaceAll('_', ''));
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`bench: --${name} must be a number >= 0; got ${JSON.stringify(raw)}`);
  return value;
}
