// ms 2 ships no types.
declare module 'ms' {
  /** Milliseconds of a duration such as '15m', '1 minute', '2 hours'; undefined when it cannot read it. */
  function ms(value: string): number | undefined;
  /** The duration in words ('1 minute') or short ('1m'). */
  function ms(value: number, options?: { long?: boolean }): string;
  export = ms;
}
