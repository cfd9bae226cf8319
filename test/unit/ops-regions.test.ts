// chatctl regions add | deploy-plan as an operator runs them, always on a temporary
// regions folder (--dir), never on the project's regions/.
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { loadRegions, REGIONS_DIR } from "../../regions/schema.ts";
import { chatctl } from "../helpers/chatctl.ts";

/** A temporary copy of the shipped region files (usa 10.10/16, eu 10.20/16). */
function shippedRegions(): string {
  const dir = mkdtempSync(join(tmpdir(), "ops-regions-"));
  for (const f of readdirSync(REGIONS_DIR).filter((f) => f.endsWith(".json"))) {
    cpSync(join(REGIONS_DIR, f), join(dir, f));
  }
  return dir;
}

function snapshot(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir).map((f) => [f, readFileSync(join(dir, f), "utf8")]),
  );
}

describe("chatctl regions add", () => {
  it("writes a valid region file with usa's sizing and the next free /16", async () => {
    const dir = shippedRegions();

    const run = await chatctl([
      "regions",
      "add",
      "apac",
      "--aws-region",
      "ap-southeast-1",
      "--dir",
      dir,
    ]);

    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/no --cidr given: using 10\.30\.0\.0\/16/);
    expect(run.stdout).toMatch(/apac\.json \(ap-southeast-1, 10\.30\.0\.0\/16, 3 AZs\)/);
    const usa = JSON.parse(readFileSync(join(dir, "usa.json"), "utf8"));
    const apac = JSON.parse(readFileSync(join(dir, "apac.json"), "utf8"));
    expect(apac).toEqual({
      ...usa,
      id: "apac",
      awsRegion: "ap-southeast-1",
      cidr: "10.30.0.0/16",
    });
    expect([...loadRegions(dir).keys()]).toEqual(["apac", "eu", "usa"]);
  });

  it("takes --cidr and --azs, and skips a suggested range that overlaps", async () => {
    const dir = shippedRegions();
    const first = await chatctl([
      "regions",
      "add",
      "sa",
      "--aws-region",
      "sa-east-1",
      "--cidr",
      "10.30.128.0/17",
      "--azs",
      "2",
      "--dir",
      dir,
    ]);
    expect(first.code).toBe(0);
    expect(first.stderr).toBe("");
    expect(loadRegions(dir).get("sa")).toMatchObject({ cidr: "10.30.128.0/17", azs: 2 });

    const second = await chatctl([
      "regions",
      "add",
      "apac",
      "--aws-region",
      "ap-south-1",
      "--dir",
      dir,
    ]);

    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/using 10\.40\.0\.0\/16/);
  });

  const refused: [string, string[], RegExp][] = [
    [
      "an existing id",
      ["eu", "--aws-region", "eu-west-2"],
      /field "id" "eu" already exists/,
    ],
    [
      "an unknown AWS region",
      ["apac", "--aws-region", "ap-middle-9"],
      /apac\.json: field "awsRegion" must be a known AWS region.*set it with --aws-region/,
    ],
    [
      "an overlapping CIDR",
      ["apac", "--aws-region", "ap-south-1", "--cidr", "10.10.64.0/18"],
      /field "cidr" 10\.10\.64\.0\/18 overlaps 10\.10\.0\.0\/16 of region "usa".*10\.30\.0\.0\/16/,
    ],
    [
      "a CIDR with host bits",
      ["apac", "--aws-region", "ap-south-1", "--cidr", "10.30.1.0/16"],
      /field "cidr" .*use 10\.30\.0\.0\/16 \(set it with --cidr\)/,
    ],
    [
      "too many AZs",
      ["apac", "--aws-region", "ap-south-1", "--azs", "9"],
      /field "azs".*--azs/,
    ],
    [
      "a bad id",
      ["Asia_1", "--aws-region", "ap-south-1"],
      /field "id" must be 2-16 characters/,
    ],
  ];
  for (const [what, args, message] of refused) {
    it(`refuses ${what}, naming the field, and writes nothing`, async () => {
      const dir = shippedRegions();
      const before = snapshot(dir);

      const run = await chatctl(["regions", "add", ...args, "--dir", dir]);

      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe("");
      expect(snapshot(dir)).toEqual(before);
    });
  }

  it("asks for --aws-region as a usage error", async () => {
    const run = await chatctl(["regions", "add", "apac", "--dir", shippedRegions()]);

    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--aws-region is missing/);
  });

  it("refuses to add beside an invalid region file", async () => {
    const dir = shippedRegions();
    writeFileSync(join(dir, "bad.json"), "{");
    const before = snapshot(dir);

    const run = await chatctl([
      "regions",
      "add",
      "apac",
      "--aws-region",
      "ap-south-1",
      "--dir",
      dir,
    ]);

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /fix the existing region files first: .*bad\.json: is not valid JSON/,
    );
    expect(snapshot(dir)).toEqual(before);
  });
});

describe("chatctl regions deploy-plan", () => {
  it("prints chat-global first, then one deploy per region, with the note", async () => {
    const dir = shippedRegions();

    const run = await chatctl(["regions", "deploy-plan", "--dir", dir]);

    expect(run.code).toBe(0);
    const commands = run.stdout.split("\n").filter((l) => l.startsWith("npx "));
    expect(commands).toEqual([
      "npx cdktf deploy chat-global",
      "npx cdktf deploy chat-eu",
      "npx cdktf deploy chat-usa",
    ]);
    expect(run.stdout).toMatch(/replica .* is added\n# by redeploying chat-global/);
  });

  it("lists a region just added, as JSON", async () => {
    const dir = shippedRegions();
    await chatctl(["regions", "add", "apac", "--aws-region", "ap-south-1", "--dir", dir]);

    const run = await chatctl(["regions", "deploy-plan", "--json", "--dir", dir]);

    expect(JSON.parse(run.stdout)).toEqual({
      stacks: ["chat-global", "chat-apac", "chat-eu", "chat-usa"],
    });
  });
});

describe("chatctl help", () => {
  it("lists status, regions add and regions deploy-plan", async () => {
    const run = await chatctl(["help"]);

    expect(run.stdout).toMatch(/chatctl status \[--json\]/);
    expect(run.stdout).toMatch(/chatctl regions add <id> --aws-region <r>/);
    expect(run.stdout).toMatch(/chatctl regions deploy-plan/);
  });
});
