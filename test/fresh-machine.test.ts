import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import semver from 'semver';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { findChromium, installCommand } from '../scripts/test-prereqs.mjs';

// `npm ci && npm test` on a fresh machine: the set-up step finds or installs what it needs, or stops at once with
// the one command to run; and nothing in the dependency tree needs a newer Node than the packages declare.

const ROOT = path.resolve(__dirname, '..');
const SETUP = path.join(ROOT, 'scripts', 'test-prereqs.mjs');

function runSetup(env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [SETUP], { env, timeout: 20_000 }, (_error, stdout, stderr) => resolve({ code: child.exitCode, output: stdout + stderr }));
  });
}

describe('fresh machine: the set-up step of npm test', () => {
  let bin: string;
  beforeEach(() => {
    // A PATH with node and nothing else: no redis-server, no Chromium, no package manager.
    bin = mkdtempSync(path.join(tmpdir(), 'slidegate-path-'));
    symlinkSync(process.execPath, path.join(bin, 'node'));
  });
  afterEach(() => rmSync(bin, { recursive: true, force: true }));

  it('stops at once with the one command to run when redis-server and Chromium are missing and it cannot install them', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, SLIDEGATE_NO_INSTALL: '1' };
    delete env.CHROMIUM_PATH;
    const { code, output } = await runSetup(env);
    expect(code).to.equal(1);
    expect(output).to.include('npm test needs redis-server and redis-cli and a Chromium');
    expect(output).to.include(`    ${String(installCommand(['redis', 'chromium'], undefined))}\n`);
    expect(output).to.match(/apt-get update && (sudo )?apt-get install -y --no-install-recommends redis-server chromium/);
  });

  it('passes when both are on PATH, under any usual Chromium name', async () => {
    for (const name of ['redis-server', 'redis-cli', 'chromium-browser']) {
      writeFileSync(path.join(bin, name), '#!/bin/sh\n');
      chmodSync(path.join(bin, name), 0o755);
    }
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: bin, SLIDEGATE_NO_INSTALL: '1' };
    delete env.CHROMIUM_PATH;
    const { code, output } = await runSetup(env);
    expect(code, output).to.equal(0);
  });

  it('takes CHROMIUM_PATH first, and refuses one that is not an executable', async () => {
    const fake = path.join(bin, 'my-chrome');
    writeFileSync(fake, '#!/bin/sh\n');
    chmodSync(fake, 0o755);
    const saved = process.env.CHROMIUM_PATH;
    try {
      process.env.CHROMIUM_PATH = fake;
      expect(await findChromium()).to.equal(fake);
      process.env.CHROMIUM_PATH = path.join(bin, 'nothing-here');
      const error = await (findChromium() as Promise<string>).then(() => undefined, (e: unknown) => e);
      expect(String(error)).to.match(/CHROMIUM_PATH is set to .*nothing-here, which is not an executable file/);
    } finally {
      if (saved === undefined) delete process.env.CHROMIUM_PATH;
      else process.env.CHROMIUM_PATH = saved;
    }
  });

  it('names the command of each package manager, with sudo when not root', () => {
    expect(installCommand(['redis'], 'apt', false)).to.equal('sudo apt-get update && sudo apt-get install -y --no-install-recommends redis-server');
    expect(installCommand(['chromium'], 'apt', true)).to.equal('apt-get update && apt-get install -y --no-install-recommends chromium');
    expect(installCommand(['redis', 'chromium'], 'brew', false)).to.equal('brew install redis && brew install --cask chromium');
    expect(installCommand(['redis'], 'dnf', false)).to.equal('sudo dnf install -y redis');
  });
});

describe('fresh machine: engines', () => {
  it('every package in the lockfile runs on the oldest Node the packages declare (no EBADENGINE on npm ci)', () => {
    const declared = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    const oldest = semver.minVersion(declared)!.version;
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: unknown }> };
    const needNewer = Object.entries(lock.packages)
      .filter(([, meta]) => typeof (meta.engines as { node?: unknown } | undefined)?.node === 'string')
      .filter(([, meta]) => !semver.satisfies(oldest, (meta.engines as { node: string }).node))
      .map(([name, meta]) => `${name} needs node ${(meta.engines as { node: string }).node}`);
    expect(needNewer).to.deep.equal([]);
    for (const pkg of readdirSync(path.join(ROOT, 'packages'))) {
      const json = JSON.parse(readFileSync(path.join(ROOT, 'packages', pkg, 'package.json'), 'utf8')) as { engines?: { node?: string } };
      expect(json.engines?.node, pkg).to.equal(declared);
    }
  });
});
