// `node --import tsx test/support/run-snippet.mjs <file>`: runs one README program (test/doc-snippets.test.ts).
// The program passes when its module finishes evaluating (top-level awaits included) and nothing fails in the
// next SETTLE_MS (a rejected promise, an error thrown in a callback). A program that serves HTTP never ends by
// itself, so the runner ends the process then.
import { pathToFileURL } from 'node:url';

const SETTLE_MS = Number(process.env.SNIPPET_SETTLE_MS ?? 500);
const fail = (kind) => (error) => {
  console.error(`snippet: ${kind}:`, error);
  process.exit(1);
};
process.on('unhandledRejection', fail('unhandled rejection'));
process.on('uncaughtException', fail('uncaught exception'));

await import(pathToFileURL(process.argv[2]).href);
setTimeout(() => process.exit(0), SETTLE_MS);
