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
  rmSync,
  statSync,
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
const LOCK_FILE = ".terraform.lock.hcl";

/** How Terraform is run: the binary, its environment and the mirror it uses (if any). */
export interface TerraformSetup {
  readonly version: string;
  readonly mirror: string | undefined;
  /** Plugin cache shared by every stack and every run on this machine. */
  readonly cacheDir: string;
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
  return { version, mirror, cacheDir, env };
}

/**
 * Checks every stack, `concurrency` at a time. `init`s run one after another, and under
 * a lock on the cache folder against other test runs: without a lock file Terraform
 * installs each provider into the shared plugin cache again, and the cache is not safe
 * for concurrent writers. `validate` and `test` run in parallel.
 */
export async function checkStacks(
  setup: TerraformSetup,
  stacks: ReadonlyMap<string, string>,
  concurrency = 2,
): Promise<Map<string, StackCheck>> {
  const work = mkdtempSync(join(tmpdir(), "chat-infra-tf-"));
  const pending = [...stacks].map(([stack, stackDir]) => {
    const dir = join(work, stack.replace(/[^A-Za-z0-9_.-]/g, "_"));
    mkdirSync(join(dir, "tests"), { recursive: true });
    cpSync(join(stackDir, "cdk.tf.json"), join(dir, "cdk.tf.json"));
    const config = JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as object;
    writeFileSync(join(dir, "tests", "apply.tftest.hcl"), mockProviderTestFile(config));
    return { stack, dir };
  });

  // Every stack pins the same provider: once one init has written a lock file,
  // the others start from it, so they link the cached provider instead of
  // installing it into the cache again while another stack validates from it.
  let lockFile: string | undefined;
  let initLock = Promise.resolve();
  const init = (dir: string) => {
    const result = initLock.then(() =>
      withCacheLock(setup.cacheDir, async () => {
        if (lockFile) cpSync(lockFile, join(dir, LOCK_FILE));
        const out = await run(setup, dir, INIT);
        if (out.code === 0 && existsSync(join(dir, LOCK_FILE))) {
          lockFile ??= join(dir, LOCK_FILE);
        }
        return out;
      }),
    );
    initLock = result.then(() => undefined);
    return result;
  };

  const results = new Map<string, StackCheck>();
  const worker = async (): Promise<void> => {
    for (let next = pending.shift(); next; next = pending.shift()) {
      const started = Date.now();
      const initialized = await init(next.dir);
      results.set(
        next.stack,
        initialized.code === 0
          ? await validateAndTest(setup, next.stack, next.dir, started)
          : failed(next.stack, "init", initialized.output, started),
      );
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return new Map([...stacks.keys()].map((stack) => [stack, results.get(stack)!]));
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

/** Runs `fn` holding a lock folder beside the plugin cache (stale after 5 minutes). */
async function withCacheLock<T>(cacheDir: string, fn: () => Promise<T>): Promise<T> {
  const lock = `${cacheDir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      const age = Date.now() - (modifiedAt(lock) ?? Date.now());
      if (age > 5 * 60_000) rmSync(lock, { recursive: true, force: true });
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

function modifiedAt(path: string): number | undefined {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
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
