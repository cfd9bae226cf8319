// Terraform itself checks every synthesized stack, offline: `terraform validate`, then
// `terraform test` applying the whole stack against a mocked AWS provider. The same is
// done for the stacks a third region file adds (its own stack and the grown global one).
// Without terraform on PATH every test here fails, naming what to install.
import { readFileSync } from "node:fs";

import { beforeAll, describe, expect, it } from "vitest";

import { EXTRA_REGION, synthDeployment } from "./support/synth.ts";
import type { StackCheck, TerraformSetup } from "./support/terraform.ts";
import { checkStacks, setupTerraform } from "./support/terraform.ts";

const DEFAULT_STACKS = ["chat-global", "chat-eu", "chat-usa"];
const ADDED_REGION_STACKS = ["chat-global", `chat-${EXTRA_REGION.id}`].map(
  (name) => `with-${EXTRA_REGION.id}/${name}`,
);

let setup: TerraformSetup | undefined;
let setupError: Error | undefined;
let results = new Map<string, StackCheck>();

/** The setup, or the error that says terraform is missing (so tests fail, not skip). */
function terraform(): TerraformSetup {
  if (!setup) throw setupError ?? new Error("terraform setup did not run");
  return setup;
}

describe("terraform accepts every synthesized stack", () => {
  beforeAll(async () => {
    try {
      setup = setupTerraform();
    } catch (err) {
      setupError = err as Error;
      return;
    }

    const base = synthDeployment();
    const grown = synthDeployment({ extraRegions: { [EXTRA_REGION.id]: EXTRA_REGION } });
    const stacks = new Map<string, string>();
    for (const name of DEFAULT_STACKS) stacks.set(name, base.stackDirs.get(name)!);
    for (const name of ADDED_REGION_STACKS) {
      stacks.set(name, grown.stackDirs.get(name.slice(name.indexOf("/") + 1))!);
    }
    results = await checkStacks(setup, stacks, 2);
  }, 600_000);

  it("finds terraform >= 1.11 and the AWS provider mirror when there is one", () => {
    const { version, mirror, env } = terraform();
    expect(version).toMatch(/^1\.(1[1-9]|[2-9]\d)\./);
    expect(env.TF_CLI_CONFIG_FILE).toBeTruthy();
    expect(env.CHECKPOINT_DISABLE).toBe("1");
    const cliConfig = readFileSync(env.TF_CLI_CONFIG_FILE!, "utf8");
    if (mirror) expect(cliConfig).toContain(`path    = ${JSON.stringify(mirror)}`);
    else expect(cliConfig).not.toContain("filesystem_mirror");
  });

  it.each([...DEFAULT_STACKS, ...ADDED_REGION_STACKS])(
    "%s passes init, validate and a mocked apply",
    (stack) => {
      terraform();
      const result = results.get(stack);
      expect(result, `no result for ${stack}`).toBeDefined();
      if (!result!.ok) {
        throw new Error(
          `terraform ${result!.step} failed for ${stack}:\n${result!.output}`,
        );
      }
      expect(result!.output).toMatch(/1 passed, 0 failed/);
    },
  );
});
