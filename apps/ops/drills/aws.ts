// The AWS target of `chatctl drill`: runAwsDrill() prints a scenario's plan, calls no
// AWS API at all without `yes`, and with it runs the fault step, observes, and then
// runs the rollback step in a `finally`: after a failed fault step or an aborted
// observation too. The rollback's outcome is in the report. Scenarios: aws-scenarios.ts.
import { observe, type Observation } from "./aws-observe.ts";
import {
  AWS_DEFAULTS,
  AWS_SCENARIOS,
  describePlan,
  isAwsScenario,
  normalizeAwsInput,
  resolveTargets,
  type AwsDrillInput,
  type AwsDrillOptions,
  type AwsScenario,
} from "./aws-plan.ts";
import { Clients, SCENARIOS, type DrillContext } from "./aws-scenarios.ts";
import { judge, percentiles, type DrillReport } from "./report.ts";

export { AWS_DRILL_FLAGS, AWS_SCENARIOS } from "./aws-plan.ts";
export type { AwsDrillInput, AwsDrillOptions, AwsScenario } from "./aws-plan.ts";

/**
 * Prints the plan of an AWS drill and, only with `yes`, runs it: fault, observation,
 * rollback. Without `yes` it calls nothing and returns a report that did not pass
 * (failure "dry run"). Throws before printing for a scenario with no AWS target, an
 * unknown region or a bad option. Without `signal`, SIGINT and SIGTERM end the
 * observation early instead of the process, so the rollback still runs.
 */
export async function runAwsDrill(
  scenario: string,
  input: AwsDrillInput,
): Promise<DrillReport> {
  if (!isAwsScenario(scenario)) {
    throw new Error(
      `the drill "${scenario}" has no AWS target (AWS drills: ${AWS_SCENARIOS.join(", ")}); ` +
        "run it with --target local",
    );
  }
  const options = normalizeAwsInput(input);
  const t = resolveTargets(options);
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  for (const line of describePlan(scenario, t, options)) log(line);

  const base = { scenario, target: "aws" as const, region: t.region };
  if (options.yes !== true) {
    log("nothing done: add --yes to run this drill against AWS");
    return dryRunReport(base);
  }

  const started = Date.now();
  const steps: { atMs: number; what: string }[] = [];
  const step = (what: string) => {
    const atMs = Date.now() - started;
    steps.push({ atMs, what });
    log(`  +${String(atMs).padStart(6)} ms  ${what}`);
  };
  const clients = new Clients(t.awsRegion);
  const ctx: DrillContext = {
    t,
    settleMs: (options.settleTimeoutS ?? AWS_DEFAULTS.settleTimeoutS) * 1000,
    pollMs: options.pollMs ?? AWS_DEFAULTS.pollMs,
    step,
    clients,
  };
  const drill = SCENARIOS[scenario](ctx);
  const interrupt = options.signal ? null : interruptOnSignals(log);
  const errors: string[] = [];
  let observation: Observation | null = null;
  let faultAt: number | null = null;

  try {
    await drill.inject();
    faultAt = Date.now();
    observation = await observe({
      endpoint: options.endpoint,
      durationMs: (options.durationS ?? AWS_DEFAULTS.durationS) * 1000,
      probeMs: options.probeMs ?? AWS_DEFAULTS.probeMs,
      faultAt,
      signal: options.signal ?? interrupt!.signal,
      step,
    });
  } catch (err) {
    const stage = faultAt === null ? "fault step" : "observation";
    errors.push(`${stage} failed: ${messageOf(err)}`);
    step(`${stage} failed: ${messageOf(err)}`);
  } finally {
    step("rollback: starting");
    try {
      step(`rollback: ${await drill.rollback()}`);
    } catch (err) {
      errors.push(`rollback failed: ${messageOf(err)}; by hand: ${drill.manual()}`);
      step(`rollback failed: ${messageOf(err)}`);
    }
    clients.destroy();
    interrupt?.dispose();
  }

  return verdict(base, steps, observation, errors, options);
}

/** The plan runAwsDrill prints, for a caller that only wants to show it. */
export function planAwsDrill(scenario: AwsScenario, input: AwsDrillInput): string[] {
  const options = normalizeAwsInput(input);
  return describePlan(scenario, resolveTargets(options), options);
}

function verdict(
  base: Pick<DrillReport, "scenario" | "target" | "region">,
  steps: DrillReport["steps"],
  observation: Observation | null,
  errors: string[],
  options: AwsDrillOptions,
): DrillReport {
  const detected = observation?.timeToDetectMs ?? null;
  let recovery: DrillReport["recovery"] = null;
  if (observation && detected !== null) {
    recovery = percentiles([observation.recoveredAfterMs ?? observation.observedMs]);
    if (observation.stillFailing) {
      errors.push(
        `the endpoint still failed at the end of the observation ` +
          `(${observation.failedProbes} of ${observation.probes} probes failed)`,
      );
    }
  }
  // TODO(#6): run synthetic senders and receivers against --endpoint so AWS drills
  // count messages too; until then sent/delivered/lost are 0 and only the probe counts.
  const report = judge(
    {
      ...base,
      timeToDetectMs: detected,
      recovery,
      affectedClients: detected === null ? 0 : 1,
      sent: 0,
      delivered: 0,
      lost: 0,
      duplicated: 0,
      outOfOrder: 0,
      steps,
    },
    options.thresholds,
  );
  if (errors.length === 0) return report;
  return { ...report, passed: false, failures: [...report.failures, ...errors] };
}

function dryRunReport(
  base: Pick<DrillReport, "scenario" | "target" | "region">,
): DrillReport {
  const report = judge({
    ...base,
    timeToDetectMs: null,
    recovery: null,
    affectedClients: 0,
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    outOfOrder: 0,
    steps: [{ atMs: 0, what: "dry run: printed the plan, called nothing" }],
  });
  return {
    ...report,
    passed: false,
    failures: ["dry run: nothing was done; add --yes to run the drill"],
  };
}

/**
 * Until disposed, SIGINT and SIGTERM abort the returned signal instead of ending the
 * process, so an operator's Ctrl-C ends the observation and the rollback still runs.
 */
function interruptOnSignals(log: (line: string) => void): {
  signal: AbortSignal;
  dispose(): void;
} {
  const controller = new AbortController();
  const onSignal = (name: string) => {
    log(`${name}: ending the drill; rolling back first (this can take a while)`);
    controller.abort();
  };
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const name of signals) process.on(name, onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      for (const name of signals) process.off(name, onSignal);
    },
  };
}

function messageOf(err: unknown): string {
  const e = err as Error;
  if (e?.name === "AbortError") return "aborted";
  return e?.message ?? String(err);
}
