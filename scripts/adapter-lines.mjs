// Lines of each adapter's own code: the non-blank lines of packages/<adapter>/src/**/*.ts that hold
// something besides comments (imports and types count). `node scripts/adapter-lines.mjs` prints them;
// test/adapter-size.test.ts keeps the adapters within their budget.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';

export const ADAPTERS = ['express', 'koa', 'fastify', 'hono', 'nestjs'];
const ROOT = resolve(import.meta.dirname, '..');

/** Lines of code in one TypeScript source: those that a token (not a comment) starts on or runs across. */
export function codeLines(text, fileName = 'source.ts') {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true);
  const lines = new Set();
  const visit = (node) => {
    if (node.kind >= ts.SyntaxKind.FirstJSDocNode && node.kind <= ts.SyntaxKind.LastJSDocNode) return;
    const children = node.getChildren(source);
    if (children.length > 0) return children.forEach(visit);
    if (node.kind === ts.SyntaxKind.EndOfFileToken) return;
    const first = source.getLineAndCharacterOfPosition(node.getStart(source)).line;
    const last = source.getLineAndCharacterOfPosition(node.getEnd()).line;
    for (let line = first; line <= last; line++) lines.add(line);
  };
  visit(source);
  return lines.size;
}

/** Lines of code of an adapter's src/, by file and in total. */
export function adapterLines(adapter) {
  const dir = join(ROOT, 'packages', adapter, 'src');
  const files = readdirSync(dir, { recursive: true })
    .filter((name) => name.endsWith('.ts'))
    .sort()
    .map((name) => ({ file: name, lines: codeLines(readFileSync(join(dir, name), 'utf8'), name) }));
  return { adapter, files, total: files.reduce((sum, f) => sum + f.lines, 0) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const adapter of ADAPTERS) {
    const { files, total } = adapterLines(adapter);
    console.log(`${adapter.padEnd(8)} ${String(total).padStart(4)}  (${files.map((f) => `${f.file} ${f.lines}`).join(', ')})`);
  }
}
