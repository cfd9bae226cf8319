import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import {
  cidrsOverlap,
  loadDeployment,
  loadRegions,
  parseCidr,
  REGIONS_DIR,
} from "../../regions/schema.ts";

const valid = {
  id: "apac",
  awsRegion: "ap-southeast-1",
  cidr: "10.30.0.0/16",
  azs: 3,
  redis: {
    nodeType: "cache.r7g.large",
    replicasPerShard: 1,
    clusterMode: false,
    shards: 1,
  },
  zookeeper: { ensembleSize: 3, instanceType: "t3.small" },
  wss: { minTasks: 2, maxTasks: 20, cpu: 1024, memoryMiB: 2048 },
  chatServer: { minTasks: 2, maxTasks: 10, cpu: 1024, memoryMiB: 2048 },
};

function dirWith(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "regions-"));
  for (const [name, content] of Object.entries(files)) {
    writeFileSync(
      join(dir, name),
      typeof content === "string" ? content : JSON.stringify(content),
    );
  }
  return dir;
}

function withChange(path: string[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(valid) as Record<string, unknown>;
  let at = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>;
  if (value === undefined) delete at[path.at(-1)!];
  else at[path.at(-1)!] = value;
  return copy;
}

describe("region files", () => {
  it("loads the shipped usa and eu regions", () => {
    const regions = loadRegions(REGIONS_DIR);
    expect([...regions.keys()].sort()).toEqual(["eu", "usa"]);
    expect(regions.get("usa")).toMatchObject({
      awsRegion: "us-east-1",
      cidr: "10.10.0.0/16",
    });
    expect(regions.get("eu")).toMatchObject({
      awsRegion: "eu-west-1",
      cidr: "10.20.0.0/16",
    });
    expect(Object.isFrozen(regions.get("usa")!.redis)).toBe(true);
  });

  it("accepts a new valid region file", () => {
    const regions = loadRegions(dirWith({ "apac.json": valid }));
    expect(regions.get("apac")?.awsRegion).toBe("ap-southeast-1");
  });

  const rejected: [string, Record<string, unknown> | string, RegExp][] = [
    [
      "unknown top-level key",
      withChange(["colour"], "blue"),
      /apac\.json: .*unknown key\(s\) "colour"/,
    ],
    [
      "unknown nested key",
      withChange(["redis", "ttl"], 5),
      /field "redis".*unknown key\(s\) "ttl"/,
    ],
    [
      "even ensemble",
      withChange(["zookeeper", "ensembleSize"], 4),
      /field "zookeeper\.ensembleSize".*odd/,
    ],
    [
      "unknown AWS region",
      withChange(["awsRegion"], "us-middle-1"),
      /field "awsRegion".*known AWS region/,
    ],
    ["bad id charset", withChange(["id"], "Ap_Ac"), /field "id"/],
    ["missing field", withChange(["cidr"], undefined), /field "cidr"/],
    ["bad CIDR", withChange(["cidr"], "10.30.0.0"), /field "cidr".*not an IPv4 CIDR/],
    [
      "host bits set",
      withChange(["cidr"], "10.30.1.0/16"),
      /host bits set; use 10\.30\.0\.0\/16/,
    ],
    [
      "shards without cluster mode",
      withChange(["redis", "shards"], 3),
      /field "redis\.shards"/,
    ],
    ["max below min", withChange(["wss", "maxTasks"], 1), /field "wss\.maxTasks"/],
    ["not JSON", "{ id: apac", /apac\.json: is not valid JSON/],
  ];
  for (const [name, content, message] of rejected) {
    it(`rejects ${name}, naming the file and field`, () => {
      expect(() => loadRegions(dirWith({ "apac.json": content }))).toThrow(message);
    });
  }

  it("rejects overlapping CIDRs across files", () => {
    const other = { ...valid, id: "emea", cidr: "10.30.128.0/17" };
    expect(() =>
      loadRegions(dirWith({ "apac.json": valid, "emea.json": other })),
    ).toThrow(
      /emea\.json: field "cidr" 10\.30\.128\.0\/17 overlaps 10\.30\.0\.0\/16 of region "apac"/,
    );
  });

  it("rejects a file whose name is not its id", () => {
    expect(() => loadRegions(dirWith({ "asia.json": valid }))).toThrow(
      /rename the file to apac\.json/,
    );
  });

  it("rejects an empty folder", () => {
    expect(() => loadRegions(dirWith({}))).toThrow(/holds no region file/);
  });

  it("computes CIDR overlap", () => {
    expect(cidrsOverlap("10.10.0.0/16", "10.10.255.0/24")).toBe(true);
    expect(cidrsOverlap("10.10.0.0/16", "10.11.0.0/16")).toBe(false);
    expect(parseCidr("10.10.0.0/8")).toMatch(/prefix from \/16 to \/24/);
  });
});

describe("deployment.json", () => {
  it("is read beside the region files and is not a region file itself", () => {
    const dir = dirWith({
      "apac.json": valid,
      "deployment.json": { fanout: "per-group" },
    });
    expect([...loadRegions(dir).keys()]).toEqual(["apac"]);
    expect(loadDeployment(dir)).toEqual({ fanout: "per-group" });
  });

  it("defaults to per-user fan-out when the file or the setting is absent", () => {
    expect(loadDeployment(dirWith({ "apac.json": valid }))).toEqual({
      fanout: "per-user",
    });
    expect(loadDeployment(dirWith({ "deployment.json": {} }))).toEqual({
      fanout: "per-user",
    });
  });

  it("ships with a valid setting", () => {
    expect(["per-user", "per-group"]).toContain(loadDeployment(REGIONS_DIR).fanout);
  });

  it("names the file and the field of a bad setting", () => {
    const bad = dirWith({ "deployment.json": { fanout: "per-room" } });
    expect(() => loadDeployment(bad)).toThrow(
      /deployment\.json: field "fanout" must be one of "per-user", "per-group"/,
    );
    const extra = dirWith({ "deployment.json": { fanout: "per-user", shards: 2 } });
    expect(() => loadDeployment(extra)).toThrow(/unknown key\(s\) "shards"/);
  });
});
