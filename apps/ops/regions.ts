// chatctl regions list | validate | add | deploy-plan: the region files of
// regions/ (or --dir, or CHAT_REGIONS_DIR, the folder `cdktf synth` reads).
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

import { GLOBAL_STACK_NAME, regionStackName } from "../../infra/names.ts";
import {
  cidrsOverlap,
  formatIp,
  loadDeployment,
  loadRegions,
  parseRegionFile,
  RegionConfigError,
  REGIONS_DIR,
  type Region,
  type Regions,
} from "../../regions/schema.ts";
import { parse, UsageError } from "./cli.ts";

/** Sizing of a new region: the shape of regions/usa.json, the shipped default. */
const NEW_REGION_DEFAULTS = Object.freeze({
  azs: 3,
  redis: Object.freeze({
    nodeType: "cache.r7g.large",
    replicasPerShard: 1,
    clusterMode: false,
    shards: 1,
  }),
  zookeeper: Object.freeze({ ensembleSize: 3, instanceType: "t3.small" }),
  wss: Object.freeze({ minTasks: 2, maxTasks: 20, cpu: 1024, memoryMiB: 2048 }),
  chatServer: Object.freeze({ minTasks: 2, maxTasks: 10, cpu: 1024, memoryMiB: 2048 }),
});

/** The command-line flag that sets each field `regions add` takes from its caller. */
const FLAG_OF_FIELD: Readonly<Record<string, string>> = Object.freeze({
  id: "the <id> argument",
  awsRegion: "--aws-region",
  cidr: "--cidr",
  azs: "--azs",
});

const HELP_ADD =
  "usage: chatctl regions add <id> --aws-region <r> [--cidr <c>] [--azs <n>] [--dir <d>]";

export async function regionsCommand(
  sub: string | undefined,
  args: string[],
): Promise<number> {
  switch (sub) {
    case "validate": {
      const { values } = parse(args, { dir: { type: "string" } }, 0);
      const regions = loadRegions(regionsDir(values.dir));
      const deployment = loadDeployment(regionsDir(values.dir));
      process.stdout.write(
        `ok: ${regions.size} region file(s) valid: ${[...regions.keys()]}; ` +
          `fan-out ${deployment.fanout}\n`,
      );
      return 0;
    }
    case "list": {
      const { values } = parse(
        args,
        { json: { type: "boolean" }, dir: { type: "string" } },
        0,
      );
      const regions = [...loadRegions(regionsDir(values.dir)).values()];
      if (values.json) {
        process.stdout.write(JSON.stringify(regions, null, 2) + "\n");
        return 0;
      }
      for (const r of regions) {
        process.stdout.write(`${r.id.padEnd(8)} ${r.awsRegion.padEnd(16)} ${r.cidr}\n`);
      }
      return 0;
    }
    case "add":
      return addCommand(args);
    case "deploy-plan": {
      const { values } = parse(
        args,
        { json: { type: "boolean" }, dir: { type: "string" } },
        0,
      );
      const stacks = deployOrder(loadRegions(regionsDir(values.dir)));
      if (values.json) {
        process.stdout.write(JSON.stringify({ stacks }, null, 2) + "\n");
        return 0;
      }
      process.stdout.write(formatDeployPlan(stacks));
      return 0;
    }
    default:
      throw new UsageError(
        `unknown command "regions ${sub ?? ""}"; use list, validate, add or deploy-plan`,
      );
  }
}

/** What `regions add` is asked for; everything else comes from NEW_REGION_DEFAULTS. */
export interface NewRegionRequest {
  readonly id: string;
  readonly awsRegion: string;
  /** @default the next free /16 from nextFreeCidr() */
  readonly cidr?: string;
  /** @default 3 */
  readonly azs?: number;
}

/**
 * Validates a new region against the schema and the region files already in `dir`
 * (unique id, no CIDR overlap), then writes `<dir>/<id>.json`. Writes nothing when
 * anything is wrong: the error names the field and what to change.
 */
export function addRegion(
  dir: string,
  request: NewRegionRequest,
): { file: string; region: Region; suggestedCidr: boolean } {
  const existing = loadExisting(dir);
  const suggestedCidr = request.cidr === undefined;
  const cidr = request.cidr ?? nextFreeCidr(existing);
  const file = join(dir, `${request.id}.json`);
  const shown = displayPath(file);

  if (existing.has(request.id) || existsSync(file)) {
    throw new RegionConfigError(
      shown,
      "id",
      `"${request.id}" already exists; pick another id or edit ${shown} by hand`,
    );
  }

  const draft = {
    id: request.id,
    awsRegion: request.awsRegion,
    cidr,
    azs: request.azs ?? NEW_REGION_DEFAULTS.azs,
    redis: { ...NEW_REGION_DEFAULTS.redis },
    zookeeper: { ...NEW_REGION_DEFAULTS.zookeeper },
    wss: { ...NEW_REGION_DEFAULTS.wss },
    chatServer: { ...NEW_REGION_DEFAULTS.chatServer },
  };
  const text = JSON.stringify(draft, null, 2) + "\n";
  const region = withFlagHint(() => parseRegionFile(file, text));
  for (const other of existing.values()) {
    if (cidrsOverlap(region.cidr, other.cidr)) {
      throw new RegionConfigError(
        shown,
        "cidr",
        `${region.cidr} overlaps ${other.cidr} of region "${other.id}"; ` +
          `pick a free range with --cidr, or leave --cidr out to get ` +
          `${nextFreeCidr(existing)}`,
      );
    }
  }

  // Written beside the others under a name loadRegions() ignores, then renamed, so
  // a reader never sees half a file; checked once more as the whole folder.
  const partial = `${file}.partial`;
  writeFileSync(partial, text, { flag: "wx" });
  try {
    renameSync(partial, file);
    loadRegions(dir);
  } catch (err) {
    rmSync(partial, { force: true });
    rmSync(file, { force: true });
    throw err;
  }
  return { file: shown, region, suggestedCidr };
}

/**
 * The first /16 of 10.10.0.0, 10.20.0.0, ... 10.250.0.0, then of any 10.x.0.0, that
 * overlaps no region. Throws when every /16 of 10.0.0.0/8 is taken.
 */
export function nextFreeCidr(regions: Regions): string {
  const taken = [...regions.values()].map((r) => r.cidr);
  const tens = Array.from({ length: 25 }, (_, i) => (i + 1) * 10);
  const rest = Array.from({ length: 256 }, (_, i) => i).filter((o) => !tens.includes(o));
  for (const second of [...tens, ...rest]) {
    const candidate = `${formatIp((10 * 256 + second) * 256 * 256)}/16`;
    if (!taken.some((t) => cidrsOverlap(candidate, t))) return candidate;
  }
  throw new Error("every /16 of 10.0.0.0/8 overlaps a region; pass --cidr");
}

/** Stack names in deploy order: chat-global first, then one per region. */
export function deployOrder(regions: Regions): string[] {
  return [GLOBAL_STACK_NAME, ...[...regions.keys()].map(regionStackName)];
}

/** The deploy order as commands, with the notes an operator needs to follow it. */
export function formatDeployPlan(stacks: readonly string[]): string {
  const lines = [
    `# ${GLOBAL_STACK_NAME} first: the inbox global tables (a replica per region), ` +
      "shared secrets, ECR, certificates, backbone and routing.",
    "# Then each region, one at a time; check https://<id>.ws.<domain>/healthz before the next.",
    ...stacks.map((s) => `npx cdktf deploy ${s}`),
    `# A new region's table replica (and its secrets, ECR, certificate, peering) is added`,
    `# by redeploying ${GLOBAL_STACK_NAME}; deploy it before the new chat-<id>, then`,
    "# redeploy the existing regions so their chat servers learn the new peer.",
  ];
  return lines.join("\n") + "\n";
}

/** The regions folder: --dir, else CHAT_REGIONS_DIR (as cdktf synth), else regions/. */
export function regionsDir(flag: string | undefined): string {
  return flag ?? (process.env.CHAT_REGIONS_DIR || REGIONS_DIR);
}

async function addCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      "aws-region": { type: "string" },
      cidr: { type: "string" },
      azs: { type: "string" },
      dir: { type: "string" },
    },
    1,
  );
  const id = positionals[0];
  if (!id) throw new UsageError(`a region id is missing; ${HELP_ADD}`);
  const awsRegion = values["aws-region"];
  if (!awsRegion) {
    throw new UsageError(`--aws-region is missing (such as eu-west-1); ${HELP_ADD}`);
  }
  const azs = values.azs === undefined ? undefined : Number(values.azs);
  if (azs !== undefined && !Number.isInteger(azs)) {
    throw new UsageError(`--azs must be a whole number of availability zones, 2 to 6`);
  }

  const dir = regionsDir(values.dir);
  const added = addRegion(dir, { id, awsRegion, cidr: values.cidr, azs });
  if (added.suggestedCidr) {
    process.stderr.write(
      `no --cidr given: using ${added.region.cidr}, the next free /16 ` +
        "(pass --cidr to choose another)\n",
    );
  }
  const r = added.region;
  process.stdout.write(
    `wrote ${added.file} (${r.awsRegion}, ${r.cidr}, ${r.azs} AZs)\n` +
      "next: chatctl regions validate, npx cdktf synth, chatctl regions deploy-plan " +
      "(docs/runbook.md, Adding a region)\n",
  );
  return 0;
}

/** A path relative to the working folder when it is inside it. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || rel === "" ? path : rel;
}

/** The region files already in `dir`; an empty or missing folder holds none. */
function loadExisting(dir: string): Regions {
  if (!existsSync(dir)) {
    throw new UsageError(`the regions folder ${dir} does not exist; check --dir`);
  }
  try {
    return loadRegions(dir);
  } catch (err) {
    if (err instanceof RegionConfigError && /holds no region file/.test(err.message)) {
      return new Map();
    }
    throw new Error(`fix the existing region files first: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/** Adds the flag that sets the bad field to a schema error. */
function withFlagHint<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const flag = err instanceof RegionConfigError ? FLAG_OF_FIELD[err.field] : undefined;
    if (!(err instanceof RegionConfigError) || !flag) throw err;

    const prefix = `${err.file}: field "${err.field}" `;
    const detail = err.message.startsWith(prefix)
      ? err.message.slice(prefix.length)
      : err.message;
    throw new RegionConfigError(err.file, err.field, `${detail} (set it with ${flag})`);
  }
}
