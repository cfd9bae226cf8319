// The group fan-out section of the benchmark report: each mode's cost per
// group message and per copy at each group size, and the ratios between the
// modes measured in the same run.
import type { GroupsData, GroupStep } from "../groups.ts";
import { fmt, fmtRatio, table } from "./report-parts.ts";

export function groupsSection(g: GroupsData): string {
  const rows = g.sizes.flatMap((size) =>
    g.runs.map((r) => {
      const s = r.steps.find((x) => x.size === size);
      if (!s) return [size.toLocaleString("en"), r.mode, ...Array<string>(8).fill("-")];
      return [
        size.toLocaleString("en"),
        r.mode,
        `${fmtNum(s.rate)}/s: ${s.messages} / ${s.copies.toLocaleString("en")}` +
          (s.step.keptUp ? "" : " (fell behind)"),
        fmt(s.csCpuMsPerMessage, 1),
        fmtNum(s.publishesPerMessage),
        fmt(s.cpuMsPerMessage["usa-redis"] ?? NaN, 1),
        fmt(s.wssCpuMsPerCopy * 1000, 0),
        `${s.latencyMs.p50} / ${s.latencyMs.p99}`,
        `${s.lost} / ${s.duplicated} / ${s.outOfOrder}` +
          (s.errors > 0 ? `, ${s.errors} errors` : ""),
        `${s.loadAvg1} / ${s.step.cpuPressure ?? "-"}%`,
      ];
    }),
  );
  const ratioRows = g.sizes.map((size) => {
    const at = (mode: string): GroupStep | undefined =>
      g.runs.find((r) => r.mode === mode)?.steps.find((x) => x.size === size);
    const u = at("per-user");
    const p = at("per-group");
    return [
      size.toLocaleString("en"),
      fmtRatio(p?.csCpuMsPerMessage, u?.csCpuMsPerMessage),
      fmtRatio(p?.publishesPerMessage, u?.publishesPerMessage),
      fmtRatio(p?.wssCpuMsPerCopy, u?.wssCpuMsPerCopy),
      fmtRatio(p?.latencyMs.p50, u?.latencyMs.p50),
      fmtRatio(p?.latencyMs.p99, u?.latencyMs.p99),
    ];
  });
  const failures = g.runs
    .filter((r) => r.error)
    .map((r) => `\n${r.mode} failed: ${r.error}`);
  const warned = g.runs
    .filter((r) => r.logProblems.length > 0)
    .map((r) => `${r.mode} ${r.logProblems.length}`);
  return [
    "### 6. Group fan-out",
    "",
    `One group per size, every member connected (spread over ${g.servers} WSSs), ` +
      `members sending in turn (up to ${g.maxSenders}) with POST /v1/messages ` +
      `{group}, at ${g.copiesPerSec} copies per second at every size (group ` +
      "messages per second = copies / members), so the inbox store does the same " +
      "work at each size. The two modes run side by side as two local systems and " +
      "take turns at each size. CPU is each process's own (`/proc`), its idle CPU " +
      "with the clients connected subtracted; latency is per copy, from the " +
      "scheduled send to receipt.",
    "",
    table(
      [
        "members",
        "mode",
        "group msg/s: sent / copies",
        "chat server CPU ms per message",
        "PUBLISH per message",
        "Redis CPU ms per message",
        "WSS CPU µs per copy (both)",
        "p50 / p99 ms",
        "lost / dup / out of order",
        "load avg / CPU pressure",
      ],
      rows,
    ),
    "",
    "per-group against per-user, same run (ratio < 1: per-group cheaper or faster):",
    "",
    table(
      ["members", "chat server CPU", "PUBLISH", "WSS CPU per copy", "p50", "p99"],
      ratioRows,
    ),
    warned.length > 0
      ? `\nWarnings or errors the apps logged (first few per log, in ` +
        `\`bench/results/groups.json\`): ${warned.join(", ")}.`
      : "",
    ...failures,
  ].join("\n");
}

function fmtNum(x: number): string {
  return x.toLocaleString("en", { maximumFractionDigits: 2 });
}
