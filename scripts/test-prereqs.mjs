// The system programs `npm test` needs besides Node: redis-server and redis-cli (throwaway servers, Cluster,
// Sentinel and chaos tests) and a Chromium (the status-page test). `node scripts/test-prereqs.mjs` (the first
// step of `npm test`) finds them; when one is missing it installs it through the system's package manager if
// it can (root on Debian/Ubuntu), and otherwise stops at once with the one command to run, so no test is
// skipped in silence. The finders are exported for the tests that launch these programs.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Names a Chromium goes by on Debian, Ubuntu, Fedora, Arch, macOS (Homebrew casks link these) and in Google's packages. */
export const CHROMIUM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable', 'chrome', 'chromium-freeworld'];
/** Where the macOS apps keep their binaries, which are not on PATH. */
const CHROMIUM_APP_PATHS = [
  '/Applications/Chromium.app/Contents/MacOS/Chromium',
  '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
];

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The full path of `name` on PATH, or undefined. */
export function onPath(name, envPath = process.env.PATH ?? '') {
  for (const dir of envPath.split(path.delimiter)) {
    if (dir !== '' && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * A Chromium to drive: `CHROMIUM_PATH` if set (it must exist), else the first of CHROMIUM_NAMES on PATH, else a
 * macOS app, else a Chromium downloaded by an npm package (`npx playwright install chromium`). Undefined if none.
 */
export async function findChromium() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!isExecutable(fromEnv)) throw new Error(`CHROMIUM_PATH is set to ${fromEnv}, which is not an executable file`);
    return fromEnv;
  }
  for (const name of CHROMIUM_NAMES) {
    const found = onPath(name);
    if (found !== undefined) return found;
  }
  for (const app of CHROMIUM_APP_PATHS) if (isExecutable(app)) return app;
  try {
    const { chromium } = await import('playwright-core');
    const shipped = chromium.executablePath();
    if (shipped !== '' && isExecutable(shipped)) return shipped;
  } catch {
    // playwright-core knows no browser of its own here: fine, the system's is the usual case.
  }
  return undefined;
}

/** What each missing program is called in the package managers we can name a command for. */
const PACKAGES = {
  redis: { apt: 'redis-server', brew: 'redis', dnf: 'redis', pacman: 'redis' },
  chromium: { apt: 'chromium', brew: '--cask chromium', dnf: 'chromium', pacman: 'chromium' },
};

function packageManager() {
  if (process.platform === 'darwin') return 'brew';
  for (const pm of ['apt-get', 'dnf', 'pacman']) if (onPath(pm) !== undefined) return pm === 'apt-get' ? 'apt' : pm;
  return undefined;
}

/** The one command that installs `needs` (keys of PACKAGES) on this machine. */
export function installCommand(needs, pm = packageManager(), root = process.getuid?.() === 0) {
  const names = needs.map((need) => PACKAGES[need][pm ?? 'apt']);
  const sudo = root || pm === 'brew' ? '' : 'sudo ';
  switch (pm) {
    case 'brew':
      return names.map((name) => `brew install ${name}`).join(' && ');
    case 'dnf':
      return `${sudo}dnf install -y ${names.join(' ')}`;
    case 'pacman':
      return `${sudo}pacman -S --noconfirm ${names.join(' ')}`;
    default:
      return `${sudo}apt-get update && ${sudo}apt-get install -y --no-install-recommends ${names.join(' ')}`;
  }
}

/** Which of the prerequisites are missing: a subset of ['redis', 'chromium']. */
export async function missingPrerequisites() {
  const missing = [];
  if (onPath('redis-server') === undefined || onPath('redis-cli') === undefined) missing.push('redis');
  if ((await findChromium()) === undefined) missing.push('chromium');
  return missing;
}

function run(command, args) {
  console.log(`test set-up: ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return result.status === 0;
}

/** Installs `missing` with apt-get when this process may (root, apt-get present); true if it did. */
function aptInstall(missing) {
  if (process.getuid?.() !== 0 || onPath('apt-get') === undefined) return false;
  // Other installs may hold the dpkg lock for a while (unattended upgrades, a parallel run): wait for it.
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const names = missing.map((need) => PACKAGES[need].apt);
  return run('apt-get', [...lock, 'update']) && run('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...names]);
}

async function main() {
  let missing = await missingPrerequisites();
  if (missing.length > 0 && process.env.SLIDEGATE_NO_INSTALL !== '1') {
    console.log(`test set-up: missing ${missing.join(' and ')}; installing through the system's package manager`);
    if (aptInstall(missing)) missing = await missingPrerequisites();
  }
  if (missing.length === 0) return;
  const what = missing.map((need) => (need === 'redis' ? 'redis-server and redis-cli' : `a Chromium (${CHROMIUM_NAMES.slice(0, 3).join(', ')}, ... or CHROMIUM_PATH)`));
  console.error(
    `\nnpm test needs ${what.join(' and ')} on PATH, and cannot install ${missing.length > 1 ? 'them' : 'it'} here. Run:\n\n` +
      `    ${installCommand(missing)}\n\nthen npm test again.`,
  );
  process.exit(1);
}

// No top-level await: the status-page test, CommonJS under tsx, requires this module for its finders.
if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
