import { readFileSync } from 'node:fs';

/** The last `lines` lines of a log file, or a note saying why there are none. */
export function logTail(file: string, lines = 20): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return `(no log at ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)})`;
  }
  const tail = text.trimEnd().split('\n').slice(-lines);
  return `last ${tail.length} lines of ${file}:\n${tail.map((line) => `  | ${line}`).join('\n')}`;
}
