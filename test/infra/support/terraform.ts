// Runs Terraform itself on synthesized stacks, offline: `init -backend=false`,
// `validate`, and `test` with a mocked AWS provider that runs a full apply. The AWS
// provider comes from a local filesystem mirror when one exists (through a CLI config
// file written here); without one, Terraform downloads it as usual.
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";

import { mockProviderTestFile } from "./mock-test-file.ts";

/** The provider version @cdktf/provider-aws 20.1.0 pins. */
const AWS_PROVIDER = "registry.terraform.io/hashicorp/aws/5.100.0";

/** Where a filesystem mirror holding the AWS provider is looked for, in order. */
const MIRROR_CANDIDATES = [
  process.env.CHAT_TF_PLUGIN_MIRROR,
  "/opt/tf-plugins",
  join(homedir(), ".terraform.d", "plugins"),
  "/usr/local/share/terraform/plugins",
  "/usr/share/terraform/plugins",
];

const INIT = ["init", "-backend=false", "-input=false"];

/** How Terraform is run: the binary, its environment and the mirror it uses (if any). */
export interface TerraformSetup {
  readonly version: string;
  readonly mirror: string | undefined;
  readonly env: NodeJS.ProcessEnv;
}

/** The outcome of checking one stack. */
export interface StackCheck {
  readonly stack: string;
  readonly ok: boolean;
  /** The step that failed, or "test" when all passed. */
  readonly step: "init" | "validate" | "test";
  /** Output of the failed step (or of `terraform test` on success). */
  readonly output: string;
  readonly seconds: number;
}

/**
 * Finds terraform and the provider mirror and writes the CLI configuration. Throws
 * (never skips) when terraform is not on PATH.
 */
export function setupTerraform(): TerraformSetup {
  const probe = spawnSync("terraform", ["version", "-json"], {
    encoding: "utf8",
    env: { ...process.env, CHECKPOINT_DISABLE: "1" },
  });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      "terraform is not on PATH (or does not run): install Terraform >= 1.11 " +
        "(https://developer.hashicorp.com/terraform/install) so that the synthesized " +
        `stacks can be validated; ${probe.error?.message ?? probe.stderr}`,
    );
  }
  const version = (JSON.parse(probe.stdout) as { terraform_version: string })
    .terraform_version;

  const mirror = MIRROR_CANDIDATES.find(
    (dir) => dir !== undefined && existsSync(join(dir, AWS_PROVIDER)),
  );
  const cacheDir = join(tmpdir(), "chat-infra-terraform-plugin-cache");
  mkdirSync(cacheDir, { recursive: true });
  const configDir = mkdtempSync(join(tmpdir(), "chat-infra-tfrc-"));
  const cliConfig = join(configDir, "terraform.rc");
  writeFileSync(cliConfig, cliConfigText(mirror, cacheDir));

  // A minimal environment: no cloud credentials, no metadata lookups, no telemetry.
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    TF_CLI_CONFIG_FILE: cliConfig,
    TF_IN_AUTOMATION: "1",
    CHECKPOINT_DISABLE: "1",
    AWS_EC2_METADATA_DISABLED: "true",
  };
  return { version, mirror, env };
}

/**
 * Checks every stack, `concurrency` at a time. The first `init` runs alone: it fills the
 * shared plugin cache, which is not safe for concurrent writers; later ones only read it.
 */
export async function checkStacks(
  setup: TerraformSetup,
  stacks: ReadonlyMap<string, string>,
  concurrency = 2,
): Promise<Map<string, StackCheck>> {
  const work = mkdtempSync(join(tmpdir(), "chat-infra-tf-"));
  const queue = [...stacks].map(([stack, stackDir]) => {
    const dir = join(work, stack.replace(/[^A-Za-z0-9_.-]/g, "_"));
    mkdirSync(dir, { recursive: true });
    cpSync(join(stackDir, "cdk.tf.json"), join(dir, "cdk.tf.json"));
    mkdirSync(join(dir, "tests"));
    const config = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as object;
    writeFileSync(join(dir, "tests", "apply.tftest.hcl"), mockProviderTestFile(config));
    return { stack, dir };
  });

  // Items after the first wait for its init, which fills the plugin cache.
  let markCacheReady: () => void = () => undefined;
  const cacheReady = new Promise<void>((resolve) => (markCacheReady = resolve));
  const check = async (
    stack: string,
    dir: string,
    index: number,
  ): Promise<StackCheck> => {
    const started = Date.now();
    if (index > 0) await cacheReady;
    const init = await run(setup, dir, INIT);
    if (index === 0) markCacheReady();
    if (init.code !== 0) return failed(stack, "init", init.output, started);

    return validateAndTest(setup, stack, dir, started);
  };

  const results = new Map<string, StackCheck>();
  const pending = queue.map((item, index) => ({ ...item, index }));
  const worker = async (): Promise<void> => {
    for (let next = pending.shift(); next; next = pending.shift()) {
      results.set(next.stack, await check(next.stack, next.dir, next.index));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return results;
}

async function validateAndTest(
  setup: TerraformSetup,
  stack: string,
  dir: string,
  started: number,
): Promise<StackCheck> {
  const validate = await run(setup, dir, ["validate"]);
  if (validate.code !== 0) return failed(stack, "validate", validate.output, started);

  const test = await run(setup, dir, ["test"]);
  return {
    stack,
    ok: test.code === 0,
    step: "test",
    output: test.output,
    seconds: (Date.now() - started) / 1000,
  };
}

function failed(
  stack: string,
  step: StackCheck["step"],
  output: string,
  started: number,
) {
  return { stack, ok: false, step, output, seconds: (Date.now() - started) / 1000 };
}

function run(
  setup: TerraformSetup,
  cwd: string,
  args: string[],
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("terraform", [...args, "-no-color"], { cwd, env: setup.env });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", (err) =>
      resolve({ code: -1, output: `${output}\n${err.message}` }),
    );
    child.on("close", (code) => resolve({ code: code ?? -1, output }));
  });
}

function cliConfigText(mirror: string | undefined, cacheDir: string): string {
  const lines = [
    `plugin_cache_dir = ${JSON.stringify(cacheDir)}`,
    "disable_checkpoint = true",
  ];
  if (!mirror) return `${lines.join("\n")}\n`;

  return [
    "provider_installation {",
    "  filesystem_mirror {",
    `    path    = ${JSON.stringify(mirror)}`,
    '    include = ["registry.terraform.io/hashicorp/aws"]',
    "  }",
    "  direct {",
    '    exclude = ["registry.terraform.io/hashicorp/aws"]',
    "  }",
    "}",
    ...lines,
    "",
  ].join("\n");
}
