import { startRedis, type RedisServer } from '@slidegate/test-utils';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { codeBlocks, programSnippets } from './support/doc-snippets.mjs';
// @ts-ignore: plain ESM JavaScript without type declarations.
import { ourTscErrors } from './support/tsc-errors.mjs';

// Every whole-program code block of the READMEs runs here (the convention: test/support/doc-snippets.mjs), on the
// in-process store and, when it reads REDIS_URL, on a throwaway Redis; and all of them type-check with --strict
// and without skipLibCheck, as a TypeScript user would paste them.

interface Snippet {
  file: string;
  line: number;
  lang: string;
  heading: string;
  code: string;
  /** Run only with REDIS_URL set (a legacy block that needs Redis). */
  redisOnly?: boolean;
  /** Found by its first line, not marked: run, not type-checked (they predate the convention). */
  unmarked?: boolean;
}

const ROOT = path.resolve(__dirname, '..');
const SCRATCH = path.join(ROOT, '.tmp', 'doc-snippets');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
const RUNNER = path.join(ROOT, 'test', 'support', 'run-snippet.mjs');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

function markdownFiles(): string[] {
  const files = ['README.md', 'examples/README.md'];
  for (const pkg of readdirSync(path.join(ROOT, 'packages'))) files.push(`packages/${pkg}/README.md`);
  if (existsSync(path.join(ROOT, 'docs'))) for (const doc of readdirSync(path.join(ROOT, 'docs'))) if (doc.endsWith('.md')) files.push(`docs/${doc}`);
  return files.filter((file) => existsSync(path.join(ROOT, file)));
}

/**
 * The root README's whole programs before it marked them: blocks found by their first line. Used only while
 * README.md has no `program` block; once it marks its programs, the marks decide.
 */
const UNMARKED_ROOT_PROGRAMS: ReadonlyArray<{ firstLine: string; redisOnly?: boolean }> = [
  { firstLine: "import { RateLimiter } from '@slidegate/core';" },
  // It passes process.env.REDIS_URL to RedisStore.fromUrl, which refuses undefined.
  { firstLine: "import express from 'express';", redisOnly: true },
  { firstLine: "import Koa from 'koa';" },
  { firstLine: "import Redis from 'ioredis';" },
];

function snippets(): Snippet[] {
  const found: Snippet[] = [];
  for (const file of markdownFiles()) {
    found.push(...(programSnippets(path.join(ROOT, file)) as Snippet[]).map((s) => ({ ...s, file })));
  }
  if (!found.some((s) => s.file === 'README.md')) {
    const blocks = codeBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'), 'README.md') as Array<Snippet & { words: string[] }>;
    for (const { firstLine, redisOnly } of UNMARKED_ROOT_PROGRAMS) {
      const block = blocks.find((b) => b.code.startsWith(`${firstLine}\n`));
      if (block !== undefined) found.push({ file: block.file, line: block.line, lang: block.lang, heading: block.heading, code: block.code, redisOnly, unmarked: true });
    }
  }
  return found;
}

function scriptName(s: Snippet): string {
  return `${s.file.replace(/[^A-Za-z0-9]+/g, '-')}-L${s.line}.mts`;
}

interface RunResult {
  code: number | null;
  output: string;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** tsc's errors in the programs or in slidegate's own declarations, located by README and line. */
function ourErrors(output: string): string[] {
  return (ourTscErrors(output, /^(\.tmp\/doc-snippets\/|packages\/|node_modules\/@slidegate\/)/) as string[]).map((d) =>
    d.replace(/^\.tmp\/doc-snippets\/(\S+?)-L(\d+)\.mts/, (_m, file: string, line: string) => `${file} block at line ${line}`),
  );
}

const ALL = snippets();

/** Each program in each mode it runs in. */
const RUNS = ALL.flatMap((s) => (s.redisOnly === true ? ['redis'] : s.code.includes('REDIS_URL') ? ['memory', 'redis'] : ['memory']).map((mode) => ({ s, mode })));

/** Runs `jobs` with at most `limit` at a time; the promises settle in any order. */
function pooled<T>(jobs: Array<() => Promise<T>>, limit: number): Array<Promise<T>> {
  let next = 0;
  const gates: Array<() => void> = [];
  const results = jobs.map((job, i) => new Promise<void>((resolve) => (gates[i] = resolve)).then(job));
  const start = (): void => {
    if (next < jobs.length) gates[next++]!();
  };
  for (const result of results) void result.then(start, start);
  for (let i = 0; i < limit; i++) start();
  return results;
}

describe('README programs run as written', function () {
  this.timeout(120_000);
  let redis: RedisServer | undefined;
  // Started together in before() (two programs at a time, beside the type-check), awaited by each test: the
  // processes spend most of their time starting up, so running them side by side saves most of a minute.
  let runs: Array<Promise<RunResult>> = [];
  let typeCheck: Promise<RunResult>;

  before(async () => {
    await rm(SCRATCH, { recursive: true, force: true });
    await mkdir(SCRATCH, { recursive: true });
    // Inside the repository, so the programs resolve @slidegate/* and the frameworks from its node_modules.
    for (const s of ALL) await writeFile(path.join(SCRATCH, scriptName(s)), s.code);
    // A throwaway server: the programs use the default key prefix, which the machine's Redis may share.
    if (ALL.some((s) => s.code.includes('REDIS_URL'))) redis = await startRedis();
    const files = ALL.filter((s) => s.unmarked !== true).map((s) => path.join(SCRATCH, scriptName(s)));
    const tscArgs = [TSC, '--noEmit', '--strict', '--skipLibCheck', 'false', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', ...files];
    typeCheck = run(process.execPath, tscArgs, process.env, 180_000);
    runs = pooled(
      RUNS.map(({ s, mode }) => () => {
        const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', NODE_ENV: 'test' };
        delete env.REDIS_URL;
        if (mode === 'redis') env.REDIS_URL = redis!.url;
        return run(process.execPath, ['--import', TSX, RUNNER, path.join(SCRATCH, scriptName(s))], env, 60_000);
      }),
      2,
    );
  });

  after(async () => {
    await Promise.allSettled([...runs, typeCheck]);
    await redis?.stop();
  });

  it('finds the programs of the root README and of every package README', () => {
    const files = new Set(ALL.map((s) => s.file));
    expect([...files]).to.include.members(['README.md', 'packages/core/README.md', 'packages/express/README.md', 'packages/koa/README.md', 'packages/fastify/README.md']);
  });

  RUNS.forEach(({ s, mode }, i) => {
    it(`${s.file}:${s.line} (${s.heading}) on ${mode === 'redis' ? 'Redis' : 'the in-process store'}`, async () => {
      const result = await runs[i]!;
      expect(result.code, `exit code; output:\n${result.output}`).to.equal(0);
    });
  });

  it('type-check with --strict and without skipLibCheck (errors in our programs and declarations)', async function () {
    this.timeout(180_000);
    const result = await typeCheck;
    expect(ourErrors(result.output).join('\n')).to.equal('');
  });
});
