// The --before=DIR option of the HTTP benches: a copy of an earlier build's packages (package.json + dist in
// DIR/node_modules/@slidegate/*, DIR/node_modules otherwise symlinked to this repo's), loaded beside this build.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** `@slidegate/<pkg>` from this build, or from the earlier build in `before` when it is given. */
export async function importSlidegate(pkg, before) {
  const name = `@slidegate/${pkg}`;
  if (before === undefined) return import(name);
  const require = createRequire(join(before, 'node_modules', 'index.js'));
  return import(pathToFileURL(require.resolve(name)).href);
}
