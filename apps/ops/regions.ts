// chatctl regions list | validate: the region files of regions/.
import { loadRegions } from "../../regions/schema.ts";
import { parse, UsageError } from "./cli.ts";

export async function regionsCommand(
  sub: string | undefined,
  args: string[],
): Promise<number> {
  const { values } = parse(
    args,
    { json: { type: "boolean" }, dir: { type: "string" } },
    0,
  );
  switch (sub) {
    case "validate": {
      const regions = loadRegions(values.dir);
      process.stdout.write(
        `ok: ${regions.size} region file(s) valid: ${[...regions.keys()]}\n`,
      );
      return 0;
    }
    case "list": {
      const regions = [...loadRegions(values.dir).values()];
      if (values.json) {
        process.stdout.write(JSON.stringify(regions, null, 2) + "\n");
        return 0;
      }
      for (const r of regions) {
        process.stdout.write(`${r.id.padEnd(8)} ${r.awsRegion.padEnd(16)} ${r.cidr}\n`);
      }
      return 0;
    }
    default:
      throw new UsageError(
        `unknown command "regions ${sub ?? ""}"; use list or validate`,
      );
  }
}
