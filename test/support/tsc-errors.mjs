// tsc's diagnostics (plain output) in the files that `ours` matches: a program under test and slidegate's own
// declarations. Other libraries' declarations are not ours to fix: with some trees @types/koa names a type that the
// content-disposition it resolves no longer exports, which a user without skipLibCheck sees with or without us.
export function ourTscErrors(output, ours) {
  return output
    .split(/\n(?=\S)/)
    .filter((diagnostic) => /\(\d+,\d+\): error TS/.test(diagnostic) && ours.test(diagnostic));
}
