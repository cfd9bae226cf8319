// Runs the local failure drills from the console against the running system,
// one at a time, and keeps the progress and the report of the last one.
import { EventEmitter } from "node:events";

import type { LocalSystem } from "../local/runtime.ts";
import {
  LOCAL_SCENARIOS,
  runLocalDrill,
  type LocalScenario,
} from "../ops/drills/local.ts";
import { formatReport } from "../ops/drills/report.ts";
import { withDefaults } from "../shared/options.ts";
import type { DrillView, ScenarioView } from "./api.ts";

export interface DrillSettings {
  /** Receivers in the drilled region. @default 8 */
  readonly users?: number;
  /** Messages per second from the drill's senders, in all. @default 20 */
  readonly rate?: number;
  /** How long a fault with a duration lasts (redis-outage), ms. @default 4000 */
  readonly durationMs?: number;
}

/** Why a drill request was refused; `status` is the HTTP answer. */
export class DrillRequestError extends Error {
  override name = "DrillRequestError";

  constructor(
    readonly status: 400 | 409,
    message: string,
  ) {
    super(message);
  }
}

const DEFAULTS = Object.freeze({ users: 8, rate: 20, durationMs: 4000 });

/** Events: `change` (DrillView) whenever the current drill moves. */
export class DrillRunner extends EventEmitter {
  private current: DrillView | null = null;
  private running: Promise<void> | undefined;
  private nextId = 1;
  private readonly settings: Required<DrillSettings>;

  constructor(
    private readonly system: LocalSystem,
    settings: DrillSettings = {},
  ) {
    super();
    this.settings = withDefaults(DEFAULTS, settings);
  }

  /** The running drill, or the last one. */
  get drill(): DrillView | null {
    return this.current;
  }

  /** Every scenario, with the regions where this system cannot run it and why. */
  scenarios(): ScenarioView[] {
    const regions = Object.keys(this.system.status.regions);
    return LOCAL_SCENARIOS.map((scenario) => {
      const unavailable: Record<string, string> = {};
      for (const region of regions) {
        const why = unavailableReason(this.system, scenario, region);
        if (why) unavailable[region] = why;
      }
      return { scenario, unavailable };
    });
  }

  /** Starts a drill; throws DrillRequestError when one runs or this one cannot. */
  start(scenario: string, region: string): DrillView {
    if (this.current?.status === "running") {
      throw new DrillRequestError(
        409,
        `drill ${this.current.scenario} is running; wait for its report`,
      );
    }
    if (!isScenario(scenario)) {
      throw new DrillRequestError(
        400,
        `unknown scenario ${JSON.stringify(scenario)}; use one of ${LOCAL_SCENARIOS.join(", ")}`,
      );
    }
    if (!this.system.status.regions[region]) {
      const known = Object.keys(this.system.status.regions).join(", ");
      throw new DrillRequestError(
        400,
        `region ${JSON.stringify(region)} is not running; use ${known}`,
      );
    }
    const why = unavailableReason(this.system, scenario, region);
    if (why) throw new DrillRequestError(400, `${scenario} cannot run here: ${why}`);

    const lines: string[] = [];
    this.update({
      id: this.nextId++,
      scenario,
      region,
      startedAt: Date.now(),
      status: "running",
      lines,
    });
    this.running = this.run(scenario, region, lines);
    return this.current!;
  }

  /** Resolves once the running drill, if any, has finished. */
  async settled(): Promise<void> {
    await this.running;
  }

  private async run(scenario: LocalScenario, region: string, lines: string[]) {
    const log = (line: string) => {
      lines.push(line);
      this.update({ ...this.current!, lines: [...lines] });
    };
    try {
      const report = await runLocalDrill(scenario, {
        system: this.system,
        region,
        ...this.settings,
        log,
      });
      this.update({
        ...this.current!,
        status: report.passed ? "passed" : "failed",
        report,
        reportText: formatReport(report),
      });
    } catch (err) {
      this.update({ ...this.current!, status: "error", error: (err as Error).message });
    }
  }

  private update(view: DrillView): void {
    this.current = view;
    this.emit("change", view);
  }
}

/** Why `scenario` cannot be drilled in `region` of this system, or undefined. */
function unavailableReason(
  system: LocalSystem,
  scenario: LocalScenario,
  region: string,
): string | undefined {
  if (scenario === "zk-node-loss" && !system.processes.has(`${region}-zk-1`)) {
    return "needs a ZooKeeper ensemble per region: start with npm start -- --zk-ensemble 3";
  }
  if (scenario === "redis-failover" && !system.processes.has(`${region}-redis-replica`)) {
    return "needs a Redis replica per region: start with npm start -- --redis-replica";
  }
  if (scenario === "region-outage" && Object.keys(system.status.regions).length < 2) {
    return "needs a second region to take over: start without --only";
  }
  return undefined;
}

function isScenario(s: string): s is LocalScenario {
  return (LOCAL_SCENARIOS as readonly string[]).includes(s);
}
