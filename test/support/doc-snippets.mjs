// The code blocks of the READMEs that are whole programs, so a test can run and type-check each one.
//
// The convention: a fenced block whose info string has the word `program` after its language is a whole program,
// e.g. ```ts program or ```js program. GitHub and npm colour it by the first word as usual. Such a block must run
// as it stands, as an ES module (top-level await is fine), with the packages of this repository installed:
// it may read REDIS_URL (the test runs it once without, on the in-process store, and once with a Redis URL
// if its text mentions REDIS_URL) and PORT (set to 0: any free port). Blocks without the word are fragments
// and are not run.
import { readFileSync } from 'node:fs';

/**
 * @typedef {object} Snippet
 * @property {string} file   the Markdown file, as given
 * @property {number} line   1-based line of the opening fence
 * @property {string} lang   the info string's first word (js, ts, mjs, ...)
 * @property {string} heading the nearest heading above it
 * @property {string} code
 */

const FENCE = /^(\s*)(`{3,}|~{3,})(.*)$/;
const HEADING = /^#{1,6}\s+(.*)$/;

/** Every fenced code block of `markdown`, with its info string's words. */
export function codeBlocks(markdown, file = '') {
  const lines = markdown.split('\n');
  const blocks = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (open === null) {
      const h = HEADING.exec(lines[i]);
      if (h !== null) heading = h[1].trim();
      continue;
    }
    const [, indent, fence, info] = open;
    const words = info.trim().split(/\s+/).filter(Boolean);
    const body = [];
    let j = i + 1;
    // A closing fence: the same character, at least as long, nothing after it.
    for (; j < lines.length; j++) {
      const close = FENCE.exec(lines[j]);
      if (close !== null && close[2][0] === fence[0] && close[2].length >= fence.length && close[3].trim() === '') break;
      body.push(lines[j].startsWith(indent) ? lines[j].slice(indent.length) : lines[j]);
    }
    blocks.push({ file, line: i + 1, lang: words[0] ?? '', words, heading, code: `${body.join('\n')}\n` });
    i = j;
  }
  return blocks;
}

const RUNNABLE = new Set(['js', 'mjs', 'javascript', 'ts', 'mts', 'typescript']);

/** The whole-program blocks of a Markdown file (see the convention above). */
export function programSnippets(file) {
  return codeBlocks(readFileSync(file, 'utf8'), file)
    .filter((block) => block.words.includes('program'))
    .map((block) => {
      if (!RUNNABLE.has(block.lang)) throw new Error(`${file}:${block.line}: a program block must be js or ts; got '${block.lang}'`);
      return { file: block.file, line: block.line, lang: block.lang, heading: block.heading, code: block.code };
    });
}
