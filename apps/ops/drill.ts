// chatctl drill <scenario>: run one failure drill and report on it.
import { formatReport, type DrillReport, type Thresholds } from "./drills/report.ts";
import { LOCAL_SCENARIOS, runLocalDrill, type LocalScenario } from "./drills/local.ts";
import { FANOUT_MODES, type Fanout } from "../../regions/schema.ts";
import { parse, UsageError } from "./cli.ts";
import { AWS_DRILL_FLAGS } from "./drills/aws-plan.ts";

const USAGE =
  "usage: chatctl drill <scenario> [--region r] [--target local|aws] [--json] " +
  "[--duration s] [--users n] [--rate n] [--fanout per-user|per-group] " +
  "[--max-lost n] [--max-duplicated n] " +
  "[--max-out-of-order n] [--max-recovery-p99-ms n] [--yes]\n" +
  `scenarios: ${LOCAL_SCENARIOS.join(", ")}`;

export async function drill(args: string[]): Promise<number> {
  const { values, positionals } = parse(
    args,
    {
      region: { type: "string" },
      target: { type: "string" },
      json: { type: "boolean" },
      duration: { type: "string" },
      users: { type: "string" },
      rate: { type: "string" },
      fanout: { type: "string" },
      "max-lost": { type: "string" },
      "max-duplicated": { type: "string" },
      "max-out-of-order": { type: "string" },
      "max-recovery-p99-ms": { type: "string" },
      // AWS target: what to act on, and --yes to act at all.
      ...AWS_DRILL_FLAGS,
    },
    1,
  );
  const scenario = positionals[0];
  if (!scenario || !(LOCAL_SCENARIOS as readonly string[]).includes(scenario)) {
    throw new UsageError(scenario ? `unknown scenario "${scenario}"\n${USAGE}` : USAGE);
  }
  const target = values.target ?? "local";
  if (target !== "local" && target !== "aws") {
    throw new UsageError('--target must be "local" or "aws"');
  }
  const thresholds: Thresholds = {
    maxLost: count(values["max-lost"], "--max-lost"),
    maxDuplicated: count(values["max-duplicated"], "--max-duplicated"),
    maxOutOfOrder: count(values["max-out-of-order"], "--max-out-of-order"),
    maxRecoveryP99Ms: count(values["max-recovery-p99-ms"], "--max-recovery-p99-ms"),
  };
  const fanout = values.fanout;
  if (fanout !== undefined && !(FANOUT_MODES as readonly string[]).includes(fanout)) {
    throw new UsageError(`--fanout must be one of ${FANOUT_MODES.join(", ")}`);
  }
  const region = values.region ?? "usa";
  const log = (line: string) => process.stderr.write(`${line}\n`);

  let report: DrillReport;
  if (target === "local") {
    report = await runLocalDrill(scenario as LocalScenario, {
      region,
      durationMs: seconds(values.duration, "--duration"),
      users: count(values.users, "--users"),
      rate: count(values.rate, "--rate"),
      fanout: fanout as Fanout | undefined,
      thresholds,
      log,
    });
  } else {
    const { planAwsDrill, runAwsDrill, AWS_SCENARIOS } = await import("./drills/aws.ts");
    const input = { ...values, region, thresholds, log };
    if (!values.yes) {
      // Without --yes an AWS drill only says what it would do.
      if (!(AWS_SCENARIOS as readonly string[]).includes(scenario)) {
        throw new UsageError(`${scenario} has no AWS target; use --target local`);
      }
      const plan = planAwsDrill(scenario as (typeof AWS_SCENARIOS)[number], input);
      process.stdout.write(`${plan.join("\n")}\nnothing done: add --yes to run it\n`);
      return 0;
    }
    report = await runAwsDrill(scenario, input);
  }

  process.stdout.write(
    values.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report),
  );
  return report.passed ? 0 : 1;
}

function count(raw: string | undefined, flag: string): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0)
    throw new UsageError(`${flag} must be a non-negative integer`);
  return n;
}

function seconds(raw: string | undefined, flag: string): number | undefined {
  const n = count(raw, flag);
  return n === undefined ? undefined : n * 1000;
}
