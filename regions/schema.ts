// The one schema every region file in this folder is validated against, and
// the loader that applies it. Everything that reads regions (the apps, the
// local runtime, the CDKTF app, chatctl) goes through loadRegions().
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { z } from "zod";

/** The folder that holds the region files shipped with the project. */
export const REGIONS_DIR = dirname(fileURLToPath(import.meta.url));

/** Region ids: short, lowercase, usable in ids, channel names, stack names and DNS. */
export const REGION_ID_PATTERN = /^[a-z][a-z0-9]{1,15}$/;

/** AWS regions a region file may name. */
export const AWS_REGIONS: readonly string[] = Object.freeze([
  "us-east-1",
  "us-east-2",
  "us-west-1",
  "us-west-2",
  "ca-central-1",
  "ca-west-1",
  "sa-east-1",
  "mx-central-1",
  "eu-west-1",
  "eu-west-2",
  "eu-west-3",
  "eu-central-1",
  "eu-central-2",
  "eu-north-1",
  "eu-south-1",
  "eu-south-2",
  "af-south-1",
  "me-south-1",
  "me-central-1",
  "il-central-1",
  "ap-south-1",
  "ap-south-2",
  "ap-east-1",
  "ap-northeast-1",
  "ap-northeast-2",
  "ap-northeast-3",
  "ap-southeast-1",
  "ap-southeast-2",
  "ap-southeast-3",
  "ap-southeast-4",
  "ap-southeast-5",
  "ap-southeast-7",
]);

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;

const cidr = z.string().superRefine((value, ctx) => {
  const parsed = parseCidr(value);
  if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
});

const fleet = z
  .object({
    minTasks: z.number().int().min(1).max(1000),
    maxTasks: z.number().int().min(1).max(1000),
    cpu: z.union([
      z.literal(256),
      z.literal(512),
      z.literal(1024),
      z.literal(2048),
      z.literal(4096),
    ]),
    memoryMiB: z.number().int().min(512).max(30720),
  })
  .strict()
  .refine((f) => f.maxTasks >= f.minTasks, {
    message: "maxTasks must be at least minTasks",
    path: ["maxTasks"],
  });

/** The schema of one region file. Unknown keys are rejected at every level. */
export const regionSchema = z
  .object({
    id: z.string().regex(REGION_ID_PATTERN, {
      message: "must be 2-16 characters, a lowercase letter then letters or digits",
    }),
    awsRegion: z.string().refine((r) => AWS_REGIONS.includes(r), {
      message: `must be a known AWS region, such as us-east-1 or eu-west-1`,
    }),
    cidr,
    azs: z.number().int().min(2).max(6),
    redis: z
      .object({
        nodeType: z.string().regex(/^cache\.[a-z0-9]+\.[a-z0-9]+$/, {
          message: "must be an ElastiCache node type such as cache.r7g.large",
        }),
        replicasPerShard: z.number().int().min(1).max(5),
        clusterMode: z.boolean(),
        shards: z.number().int().min(1).max(500),
      })
      .strict()
      .refine((r) => r.clusterMode || r.shards === 1, {
        message: "must be 1 unless clusterMode is true",
        path: ["shards"],
      }),
    zookeeper: z
      .object({
        ensembleSize: z
          .number()
          .int()
          .refine((n) => n === 3 || n === 5, {
            message: "must be an odd ensemble size: 3 or 5",
          }),
        instanceType: z.string().regex(/^[a-z][a-z0-9]*\.[a-z0-9]+$/, {
          message: "must be an EC2 instance type such as t3.small",
        }),
      })
      .strict(),
    wss: fleet,
    chatServer: fleet,
  })
  .strict();

export type Region = Readonly<z.infer<typeof regionSchema>>;

/** All regions, by id, frozen. */
export type Regions = ReadonlyMap<string, Region>;

/** A region file that does not pass the schema: names the file and the field. */
export class RegionConfigError extends Error {
  readonly code = "REGION_CONFIG_INVALID";

  constructor(
    readonly file: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${file}: ${field ? `field "${field}" ` : ""}${detail}`);
    this.name = "RegionConfigError";
  }
}

/**
 * Reads and validates every `*.json` file of a regions folder, then the rules
 * that span files (unique ids, non-overlapping CIDRs). Throws the first error.
 */
export function loadRegions(dir: string = REGIONS_DIR): Regions {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json") && f !== DEPLOYMENT_FILE)
    .sort();
  if (files.length === 0) {
    throw new RegionConfigError(shortPath(dir), "", "holds no region file (*.json)");
  }

  const regions = new Map<string, Region>();
  const owners = new Map<string, string>();
  for (const file of files) {
    const path = join(dir, file);
    const region = parseRegionFile(path, readFileSync(path, "utf8"));

    const expected = basename(file, ".json");
    if (region.id !== expected) {
      throw new RegionConfigError(
        shortPath(path),
        "id",
        `is "${region.id}" but the file is named ${file}; rename the file to ${region.id}.json`,
      );
    }
    if (regions.has(region.id)) {
      throw new RegionConfigError(
        shortPath(path),
        "id",
        `"${region.id}" is already declared by ${owners.get(region.id)}`,
      );
    }
    for (const other of regions.values()) {
      if (cidrsOverlap(region.cidr, other.cidr)) {
        throw new RegionConfigError(
          shortPath(path),
          "cidr",
          `${region.cidr} overlaps ${other.cidr} of region "${other.id}"; pick a free range`,
        );
      }
    }
    regions.set(region.id, region);
    owners.set(region.id, shortPath(path));
  }
  return Object.freeze(regions);
}

/** The file beside the region files holding the settings every region shares. */
export const DEPLOYMENT_FILE = "deployment.json";

/** How a message to many recipients reaches their WebSocket servers. */
export const FANOUT_MODES = Object.freeze(["per-user", "per-group"] as const);
export type Fanout = (typeof FANOUT_MODES)[number];

/** The schema of deployment.json: settings all regions share. */
export const deploymentSchema = z
  .object({
    fanout: z
      .enum(FANOUT_MODES, {
        message: `must be one of ${FANOUT_MODES.map((m) => `"${m}"`).join(", ")}`,
      })
      .default("per-user"),
  })
  .strict();

export type Deployment = Readonly<z.infer<typeof deploymentSchema>>;

const DEFAULT_DEPLOYMENT: Deployment = Object.freeze({ fanout: "per-user" });

/**
 * Reads `deployment.json` of a regions folder (every setting defaults when the
 * file is absent) and validates it; the error names the file and the field.
 */
export function loadDeployment(dir: string = REGIONS_DIR): Deployment {
  const path = join(dir, DEPLOYMENT_FILE);
  if (!existsSync(path)) return DEFAULT_DEPLOYMENT;
  return parseSharedFile(path, readFileSync(path, "utf8"), deploymentSchema);
}

/**
 * The fan-out mode: `env` (the CHAT_FANOUT variable) when set, which must name
 * a mode, else deployment.json of the regions folder.
 */
export function fanoutSetting(env: string | undefined, dir?: string): Fanout {
  if (!env) return loadDeployment(dir).fanout;
  if (!(FANOUT_MODES as readonly string[]).includes(env)) {
    throw new Error(
      `CHAT_FANOUT must be one of ${FANOUT_MODES.join(", ")} (got "${env}")`,
    );
  }
  return env as Fanout;
}

/** Validates the text of one region file; the error names `file` and the field. */
export function parseRegionFile(file: string, text: string): Region {
  return parseSharedFile(file, text, regionSchema);
}

function parseSharedFile<T>(file: string, text: string, schema: z.ZodType<T>): T {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new RegionConfigError(
      shortPath(file),
      "",
      `is not valid JSON: ${(err as Error).message}`,
    );
  }

  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issue.path.join(".");
    let detail = issue.message;
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => `"${k}"`).join(", ");
      detail = `has unknown key(s) ${keys}; remove them (see regions/schema.ts)`;
    } else if (issue.code === "invalid_type") {
      detail = `is missing or of the wrong type: ${issue.message}`;
    }
    throw new RegionConfigError(shortPath(file), field, detail);
  }
  return deepFreeze(result.data);
}

/** Parses `a.b.c.d/n`; returns the numeric range or a message saying what is wrong. */
export function parseCidr(
  value: string,
): { base: number; size: number; prefix: number } | string {
  const m = CIDR_PATTERN.exec(value);
  if (!m) return `"${value}" is not an IPv4 CIDR such as 10.30.0.0/16`;

  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255)) return `"${value}" has an octet above 255`;
  if (prefix < 16 || prefix > 24) return `"${value}" must have a prefix from /16 to /24`;

  const base = octets.reduce((acc, o) => acc * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) {
    return `"${value}" has host bits set; use ${formatIp(base - (base % size))}/${prefix}`;
  }
  return { base, size, prefix };
}

/** True when two valid CIDRs share any address. */
export function cidrsOverlap(a: string, b: string): boolean {
  const x = parseCidr(a);
  const y = parseCidr(b);
  if (typeof x === "string" || typeof y === "string") return false;
  return x.base < y.base + y.size && y.base < x.base + x.size;
}

export function formatIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".");
}

function shortPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === "object") {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
