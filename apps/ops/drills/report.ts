// What every drill reports, and the pass/fail verdict against thresholds.

export interface DrillReport {
  readonly scenario: string;
  readonly target: "local" | "aws";
  readonly region: string;
  /** The fan-out mode of the drilled system (local drills). */
  readonly fanout?: string;
  /** From the fault's injection until something (a client or a probe) noticed it, ms. */
  readonly timeToDetectMs: number | null;
  /** Per affected client: fault injected until it received again; p50, p99, max (ms). */
  readonly recovery: {
    readonly p50: number;
    readonly p99: number;
    readonly max: number;
  } | null;
  readonly affectedClients: number;
  readonly sent: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly outOfOrder: number;
  /** Steps taken, in order, with their time since the drill started (ms). */
  readonly steps: readonly { readonly atMs: number; readonly what: string }[];
  readonly passed: boolean;
  /** Why it failed: one line per threshold broken. */
  readonly failures: readonly string[];
}

export interface Thresholds {
  /** @default 0 */
  readonly maxLost?: number;
  /** @default 0 */
  readonly maxDuplicated?: number;
  /** @default 0 */
  readonly maxOutOfOrder?: number;
  /** Largest acceptable p99 recovery, ms. @default 10000 */
  readonly maxRecoveryP99Ms?: number;
}

/** Fills `passed` and `failures` of a report from thresholds. */
export function judge(
  report: Omit<DrillReport, "passed" | "failures">,
  t: Thresholds = {},
): DrillReport {
  const failures: string[] = [];
  const check = (what: string, value: number, max: number) => {
    if (value > max) failures.push(`${what} ${value} is above the threshold ${max}`);
  };
  check("lost", report.lost, t.maxLost ?? 0);
  check("duplicated", report.duplicated, t.maxDuplicated ?? 0);
  check("out of order", report.outOfOrder, t.maxOutOfOrder ?? 0);
  if (report.recovery) {
    check("recovery p99 (ms)", report.recovery.p99, t.maxRecoveryP99Ms ?? 10_000);
  }
  return { ...report, passed: failures.length === 0, failures };
}

/** Percentiles of a list of durations (nearest rank). */
export function percentiles(values: readonly number[]): DrillReport["recovery"] {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  return { p50: at(0.5), p99: at(0.99), max: sorted[sorted.length - 1]! };
}

/** The report as a person reads it. */
export function formatReport(r: DrillReport): string {
  const rec = r.recovery
    ? `p50 ${r.recovery.p50} ms, p99 ${r.recovery.p99} ms, max ${r.recovery.max} ms`
    : "n/a";
  const lines = [
    `drill ${r.scenario} (${r.target}, region ${r.region}` +
      `${r.fanout ? `, ${r.fanout} fan-out` : ""}): ${r.passed ? "PASSED" : "FAILED"}`,
    `  time to detect:        ${r.timeToDetectMs === null ? "n/a" : `${r.timeToDetectMs} ms`}`,
    `  receiving again:       ${rec} (${r.affectedClients} affected clients)`,
    `  messages:              sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, ` +
      `duplicated ${r.duplicated}, out of order ${r.outOfOrder}`,
    "  steps:",
    ...r.steps.map((s) => `    +${String(s.atMs).padStart(6)} ms  ${s.what}`),
    ...r.failures.map((f) => `  FAIL: ${f}`),
  ];
  return lines.join("\n") + "\n";
}
