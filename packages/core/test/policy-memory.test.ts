import fc from 'fast-check';
import { policyScenarioArb, runPolicyScenario } from './policy-equivalence';

describe('several policies per client: MemoryStore against the reference model', function () {
  this.timeout(60_000);

  it('decides every check as the model (all-or-nothing, retryAfter when every policy allows, window changes, settle, tiers)', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(policyScenarioArb, async (scenario) => {
        await runPolicyScenario(scenario, `m${run++}:`);
      }),
      { numRuns: Number(process.env.SLIDEGATE_POLICY_RUNS ?? 2000) },
    );
  });
});
