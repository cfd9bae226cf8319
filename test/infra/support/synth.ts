// Synthesizes the deployment into a temporary folder, optionally with extra region
// files, and reads the stacks back as JSON.
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { buildApp } from "../../../infra/main.ts";
import type { ChatApp } from "../../../infra/main.ts";
import { REGIONS_DIR } from "../../../regions/schema.ts";

/** A synthesized stack: `resource`, `data`, `provider`, ... as Terraform JSON. */
export interface StackJson {
  readonly resource: Record<string, Record<string, Record<string, unknown>>>;
  readonly data?: Record<string, Record<string, Record<string, unknown>>>;
  readonly provider: { aws: Record<string, unknown>[] };
  readonly terraform: { backend?: Record<string, Record<string, unknown>> };
  readonly output?: Record<string, { value: unknown }>;
}

export interface Synthesized {
  readonly chat: ChatApp;
  /** The synth output folder (holds `manifest.json` and `stacks/`). */
  readonly outdir: string;
  /** Stack name -> folder holding its `cdk.tf.json`. */
  readonly stackDirs: ReadonlyMap<string, string>;
  /** Stack name -> parsed `cdk.tf.json`. */
  readonly stacks: ReadonlyMap<string, StackJson>;
}

export interface SynthOptions {
  /** Region files to add beside the project's own: file id -> content. */
  readonly extraRegions?: Readonly<Record<string, object>>;
  /** Environment for the deployment settings (the test's own env is not used). */
  readonly env?: NodeJS.ProcessEnv;
}

/** A third region for the "add a region file" tests. */
export const EXTRA_REGION = Object.freeze({
  id: "ap",
  awsRegion: "ap-southeast-1",
  cidr: "10.30.0.0/16",
  azs: 3,
  redis: {
    nodeType: "cache.r7g.large",
    replicasPerShard: 2,
    clusterMode: true,
    shards: 2,
  },
  zookeeper: { ensembleSize: 5, instanceType: "t4g.small" },
  wss: { minTasks: 2, maxTasks: 8, cpu: 512, memoryMiB: 1024 },
  chatServer: { minTasks: 2, maxTasks: 4, cpu: 512, memoryMiB: 1024 },
});

/** Builds and synthesizes every stack; nothing is written inside the project. */
export function synthDeployment(options: SynthOptions = {}): Synthesized {
  let regionsDir = REGIONS_DIR;
  if (options.extraRegions) {
    regionsDir = mkdtempSync(join(tmpdir(), "chat-infra-regions-"));
    for (const file of readdirSync(REGIONS_DIR).filter((f) => f.endsWith(".json"))) {
      cpSync(join(REGIONS_DIR, file), join(regionsDir, file));
    }
    for (const [id, region] of Object.entries(options.extraRegions)) {
      writeFileSync(join(regionsDir, `${id}.json`), JSON.stringify(region, null, 2));
    }
  }

  const outdir = mkdtempSync(join(tmpdir(), "chat-infra-synth-"));
  const chat = buildApp({ regionsDir, outdir, env: options.env ?? {} });
  chat.app.synth();

  const stackDirs = new Map<string, string>();
  const stacks = new Map<string, StackJson>();
  for (const name of readdirSync(join(outdir, "stacks")).sort()) {
    const dir = join(outdir, "stacks", name);
    stackDirs.set(name, dir);
    stacks.set(
      name,
      JSON.parse(readFileSync(join(dir, "cdk.tf.json"), "utf8")) as StackJson,
    );
  }
  return { chat, outdir, stackDirs, stacks };
}

/** The resources of one type in a stack, without cdktf's metadata key. */
export function resourcesOf(stack: StackJson, type: string): Record<string, unknown>[] {
  return Object.values(stack.resource[type] ?? {}).map(stripMetadata);
}

/** The data sources of one type in a stack. */
export function dataOf(stack: StackJson, type: string): Record<string, unknown>[] {
  return Object.values(stack.data?.[type] ?? {}).map(stripMetadata);
}

/** The logical name of the single resource of `type` whose metadata path ends with `pathEnd`. */
export function referenceTo(stack: StackJson, type: string, pathEnd: string): string {
  const match = Object.entries(stack.resource[type] ?? {}).find(([, body]) => {
    const meta = (body["//"] as { metadata?: { path?: string } } | undefined)?.metadata;
    return meta?.path?.endsWith(pathEnd);
  });
  if (!match) throw new Error(`no ${type} at a path ending in ${pathEnd}`);
  return `${type}.${match[0]}`;
}

function stripMetadata(body: Record<string, unknown>): Record<string, unknown> {
  const { "//": _metadata, ...rest } = body;
  return rest;
}
