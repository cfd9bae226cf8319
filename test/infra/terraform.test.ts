// Terraform itself checks every synthesized stack, offline: `terraform validate`, then
// `terraform test` applying the whole stack against a mocked AWS provider. The same is
// done for the stacks a third region file adds (its own stack and the grown global one).
import { beforeAll, describe, expect, it } from "vitest";

import { EXTRA_REGION, synthDeployment } from "./support/synth.ts";
import type { StackCheck, TerraformSetup } from "./support/terraform.ts";
import { checkStacks, setupTerraform } from "./support/terraform.ts";

const DEFAULT_STACKS = ["chat-global", "chat-eu", "chat-usa"];
const ADDED_REGION_STACKS = ["chat-global", `chat-${EXTRA_REGION.id}`];

let setup: TerraformSetup;
let results: Map<string, StackCheck>;

describe("terraform accepts every synthesized stack", () => {
  beforeAll(async () => {
    setup = setupTerraform();

    const base = synthDeployment();
    const grown = synthDeployment({ extraRegions: { [EXTRA_REGION.id]: EXTRA_REGION } });
    const stacks = new Map<string, string>();
    for (const name of DEFAULT_STACKS) stacks.set(name, base.stackDirs.get(name)!);
    for (const name of ADDED_REGION_STACKS) {
      stacks.set(`with-${EXTRA_REGION.id}/${name}`, grown.stackDirs.get(name)!);
    }
    results = await checkStacks(setup, stacks, 2);
  }, 300_000);

  it("uses the AWS provider from a local mirror when there is one", () => {
    expect(setup.version).toMatch(/^1\.(1[1-9]|[2-9]\d)\./);
    if (setup.mirror) expect(setup.env.TF_CLI_CONFIG_FILE).toBeTruthy();
  });

  const cases = [
    ...DEFAULT_STACKS,
    ...ADDED_REGION_STACKS.map((name) => `with-${EXTRA_REGION.id}/${name}`),
  ];
  it.each(cases)("%s passes init, validate and a mocked apply", (stack) => {
    const result = results.get(stack);
    expect(result, `no result for ${stack}`).toBeDefined();
    if (!result!.ok) {
      throw new Error(
        `terraform ${result!.step} failed for ${stack}:\n${result!.output}`,
      );
    }
    expect(result!.output).toMatch(/1 passed, 0 failed/);
  });
});
