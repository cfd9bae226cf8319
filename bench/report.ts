// Writes the results part of docs/benchmarks.md (between two markers; the
// rest of the page is prose kept as it is) and the latency chart, from the
// JSON files under bench/results/.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

import * as prettier from "prettier";

import type { DeliveryData, Step, SystemRun } from "./delivery.ts";
import type { E2eData } from "./e2e.ts";
import type { GroupsData } from "./groups.ts";
import { renderLatencyChart, type ChartPoint } from "./lib/chart.ts";
import type { MachineInfo } from "./lib/machine.ts";
import { groupsSection } from "./lib/report-groups.ts";
import { PROJECT_ROOT } from "./lib/procs.ts";
import { readResult, RESULTS_DIR, type ResultFile } from "./lib/results.ts";
import {
  fmt,
  fmtRatio,
  memorySection,
  NAMES,
  stormSection,
  synthSection,
  table,
  verdict,
  type SynthReport,
} from "./lib/report-parts.ts";
import type { MemoryData } from "./memory.ts";
import type { StormData } from "./storm.ts";
import type { SynthData } from "./synth-run.ts";

const DOC = join(PROJECT_ROOT, "docs", "benchmarks.md");
const CHART = join(RESULTS_DIR, "latency.svg");
const START = "<!-- bench:results:start (written by bench/report.ts; edit around it) -->";
const END = "<!-- bench:results:end -->";

/** Regenerates the chart and the results section; returns the doc's path. */
export async function writeReport(): Promise<string> {
  const delivery = readResult<DeliveryData>("delivery");
  const e2e = readResult<E2eData>("e2e");
  const memory = readResult<MemoryData>("memory");
  const storm = readResult<StormData>("storm");
  const synth = readResult<SynthData>("synth");
  const groups = readResult<GroupsData>("groups");

  const points = chartPoints(delivery?.data, e2e?.data);
  if (points.length > 0) await renderLatencyChart(points, CHART);

  const parts = [
    runs([delivery, e2e, memory, storm, synth, groups]),
    goals(delivery?.data, memory?.data, storm?.data, synth?.data),
    delivery ? deliverySection(delivery.data) : "### 1. Delivery path\n\nNot run yet.",
    e2e ? e2eSection(e2e.data) : "### 2. End to end\n\nNot run yet.",
    memory ? memorySection(memory.data) : "### 3. Idle memory\n\nNot run yet.",
    storm ? stormSection(storm.data) : "### 4. Reconnect storm\n\nNot run yet.",
    synthSection(synth?.data),
    groups ? groupsSection(groups.data) : "### 6. Group fan-out\n\nNot run yet.",
  ];
  const body = `${START}\n\n${parts.join("\n\n")}\n\n${END}`;
  const doc = existsSync(DOC) ? readFileSync(DOC, "utf8") : "# Benchmarks\n\n";
  const at = doc.indexOf(START);
  const end = doc.indexOf(END);
  const next =
    at >= 0 && end > at
      ? doc.slice(0, at) + body + doc.slice(end + END.length)
      : `${doc.trimEnd()}\n\n${body}\n`;
  // Formatted as `npm run format` would, so the doc stays clean after each run.
  const config = (await prettier.resolveConfig(DOC)) ?? {};
  writeFileSync(DOC, await prettier.format(next, { ...config, parser: "markdown" }));
  return DOC;
}

function runs(files: (ResultFile<unknown> | undefined)[]): string {
  const present = files.filter((f): f is ResultFile<unknown> => f !== undefined);
  if (present.length === 0) return "No results yet: run `npm run bench`.";
  const m = present[0]!.machine;
  const rows = present.map((f) => [
    f.bench,
    f.runId,
    f.startedAt.slice(0, 16).replace("T", " "),
    f.quick ? "quick" : "full",
    String(f.machine.loadAvg1),
    f.machine.cpuPressure60 === undefined ? "-" : `${f.machine.cpuPressure60}%`,
  ]);
  return [
    "### Runs and machine",
    "",
    table(
      ["benchmark", "run", "started (UTC)", "mode", "load avg", "CPU pressure (60 s)"],
      rows,
    ),
    "",
    "Load average and CPU pressure (share of time some task waited for a core) when " +
      "each benchmark started: other work shares these two cores.",
    "",
    machineLine(m),
  ].join("\n");
}

function machineLine(m: MachineInfo): string {
  const pkgs = Object.entries(m.packages)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return (
    `Machine: ${m.nproc} cores (${m.cpuModel}), ${m.memoryGiB} GiB; Node ${m.node}; ` +
    `redis-server ${m.redisServer}; ZooKeeper ${m.zookeeper}; ${pkgs}.`
  );
}

function goals(
  d: DeliveryData | undefined,
  mem: MemoryData | undefined,
  st: StormData | undefined,
  sy: SynthData | undefined,
): string {
  const rows: string[][] = [];
  if (d) {
    const r = d.ratios;
    rows.push([
      "delivery: >= 0.8x bare gateway's sustained rate, p99 < 20 ms",
      `${sustained(d, "ours")} vs ${sustained(d, "gateway")} msg/s = ` +
        `${r.sustainedVsGateway ?? "n/a"}x`,
      verdict(r.sustainedVsGateway !== null && r.sustainedVsGateway >= 0.8),
    ]);
    rows.push([
      "delivery: >= 2x Socket.IO's sustained rate",
      `${sustained(d, "ours")} vs ${sustained(d, "socketio")} msg/s = ` +
        `${r.sustainedVsSocketIo ?? "n/a"}x`,
      verdict(r.sustainedVsSocketIo !== null && r.sustainedVsSocketIo >= 2),
    ]);
  }
  const ours = mem?.runs.find((x) => x.system === "ours");
  if (ours) {
    const kb = (ours.perConnectionKiB * 1024) / 1000;
    rows.push([
      "idle memory: <= 10 KB RSS per connection",
      `${fmt(kb, 1)} KB (${ours.perConnectionKiB} KiB) at ${ours.connections} connections`,
      verdict(kb <= 10),
    ]);
  }
  const so = st?.runs.find((x) => x.system === "ours");
  if (so?.recovery && so.end) {
    const rec = so.recovery;
    const ok = rec.notRecovered === 0 && rec.receiveMs.max <= 10_000 && so.end.lost === 0;
    rows.push([
      `reconnect storm: all ${st!.clients.toLocaleString("en")} receiving again ` +
        "within 10 s, nothing lost",
      `last one after ${fmt(rec.receiveMs.max / 1000, 1)} s (${rec.affected} reconnected, ` +
        `${st!.backgroundRate} msg/s background), lost ${so.end.lost}, duplicated ` +
        `${so.end.duplicated}`,
      verdict(ok),
    ]);
  }
  const rep = sy?.report as SynthReport | undefined;
  rows.push(
    rep
      ? [
          "synth: all stacks under 2 s and 300 MB",
          `${fmt(rep.wallMs.max / 1000, 2)} s, ` +
            `${fmt(rep.peakRssMiB.max, 0)} MiB (worst of ${rep.runs})`,
          verdict(rep.withinLimits),
        ]
      : ["synth: all stacks under 2 s and 300 MB", "pending (bench/synth.ts)", "pending"],
  );
  return ["### Goals", "", table(["goal", "measured", "verdict"], rows)].join("\n");
}

function deliverySection(d: DeliveryData): string {
  const head = ["offered/s", ...d.runs.map((r) => NAMES[r.system]!)];
  const rates = [...d.fixedRates];
  const fixedRows = rates.map((rate) => [
    rate.toLocaleString("en"),
    ...d.runs.map((r) => cell(lastAt(r, rate))),
  ]);
  const ours = d.runs.find((r) => r.system === "ours");
  const ratioRows = rates.map((rate) => {
    const p99 = (n: string) =>
      lastAt(
        d.runs.find((r) => r.system === n),
        rate,
      )?.latencyMs.p99;
    const o = p99("ours");
    return [
      rate.toLocaleString("en"),
      o === undefined ? "n/a" : `${o}`,
      fmtRatio(o, p99("gateway")),
      fmtRatio(o, p99("socketio")),
    ];
  });
  const all = d.runs.flatMap((r) =>
    r.steps.map((s) => [
      NAMES[r.system]!,
      s.phase,
      s.offered.toLocaleString("en"),
      s.deliveredPerSec.toLocaleString("en"),
      `${s.latencyMs.p50} / ${s.latencyMs.p99} / ${s.latencyMs.p999}`,
      String(s.lost),
      s.serverCpu.join(" / "),
      String(s.loadgenCpu),
      s.pass ? "pass" : s.keptUp ? "slow" : "fail",
    ]),
  );
  return [
    "### 1. Delivery path",
    "",
    `${d.users.toLocaleString("en")} users over ${d.servers} server processes, 1 KiB ` +
      `bodies published on each user's topic; clients acknowledge every ${d.ackEveryMs} ms ` +
      "(ours). Cells: delivered/s, p50 / p99 / p99.9 ms, lost.",
    "",
    table(head, fixedRows),
    "",
    table(
      ["", ...d.runs.map((r) => NAMES[r.system]!), "ours / gateway", "ours / Socket.IO"],
      [
        [
          "sustained (kept up, p99 <= 20 ms), msg/s",
          ...d.runs.map(
            (r) => r.sustained.toLocaleString("en") + (r.error ? " (error)" : ""),
          ),
          String(d.ratios.sustainedVsGateway ?? "n/a"),
          String(d.ratios.sustainedVsSocketIo ?? "n/a"),
        ],
      ],
    ),
    "",
    "Server CPU per delivered message (the servers' CPU, Redis excluded, over the " +
      "messages they delivered; steady under machine noise, unlike latency):",
    "",
    table(
      [
        "offered/s",
        ...d.runs.map((r) => NAMES[r.system]!),
        "ours / gateway",
        "ours / Socket.IO",
      ],
      rates.map((rate) => {
        const us = (n: string) =>
          cpuPerMessage(
            lastAt(
              d.runs.find((r) => r.system === n),
              rate,
            ),
          );
        const o = us("ours");
        return [
          rate.toLocaleString("en"),
          ...d.runs.map((r) => fmtUs(cpuPerMessage(lastAt(r, rate)))),
          fmtRatio(o, us("gateway")),
          fmtRatio(o, us("socketio")),
        ];
      }),
    ),
    "",
    "CPU per delivered message for the whole system under test plus the load generator " +
      "(servers, Redis, for ours also the chat server, inbox store and ZooKeeper kept busy " +
      "by acknowledgements), and the rate two dedicated cores would sustain at that cost:",
    "",
    table(
      [
        "offered/s",
        ...d.runs.map((r) => NAMES[r.system]!),
        "ours / gateway",
        "ours / Socket.IO",
      ],
      rates.map((rate) => {
        const cap = (n: string) =>
          capacity(
            lastAt(
              d.runs.find((r) => r.system === n),
              rate,
            ),
          );
        const o = cap("ours");
        return [
          rate.toLocaleString("en"),
          ...d.runs.map((r) => {
            const st = lastAt(r, rate);
            const c = capacity(st);
            return c === undefined
              ? "-"
              : `${fmtUs(totalCpuPerMessage(st))}, ${fmtRate(c)}`;
          }),
          fmtRatio(o, cap("gateway")),
          fmtRatio(o, cap("socketio")),
        ];
      }),
    ),
    "",
    "p99 of ours against the peers at the fixed rates (lower is better; ratio < 1: ours faster):",
    "",
    table(["offered/s", "ours p99 ms", "ours / gateway", "ours / Socket.IO"], ratioRows),
    "",
    `![latency against offered rate](${relative(join(PROJECT_ROOT, "docs"), CHART)})`,
    "",
    "<details><summary>Every step (fixed rates, then the search)</summary>",
    "",
    table(
      [
        "system",
        "phase",
        "offered/s",
        "delivered/s",
        "p50 / p99 / p99.9 ms",
        "lost",
        "server CPU (each, then Redis)",
        "load gen CPU",
        "",
      ],
      all,
    ),
    "",
    "</details>",
    ours?.error ? `\nOurs failed: ${ours.error}` : "",
  ].join("\n");
}

function e2eSection(e: E2eData): string {
  const rows = e.steps.map((s) => [
    s.phase,
    s.offered.toLocaleString("en"),
    s.deliveredPerSec.toLocaleString("en"),
    s.latencyMs.count > 0
      ? `${s.latencyMs.p50} / ${s.latencyMs.p99} / ${s.latencyMs.p999}`
      : "-",
    String(s.lost),
    String(s.errors),
    s.serverCpu.join(" / "),
    s.pass ? "pass" : s.keptUp ? "slow" : "did not keep up",
  ]);
  return [
    "### 2. End to end (ours only)",
    "",
    `POST /v1/messages from ${e.senders} senders (at most ${e.maxInFlight} requests ` +
      `outstanding) to ${e.users.toLocaleString("en")} connected users: stored in the ` +
      "inbox, then published. Highest rate kept up: " +
      `**${e.keptUp.toLocaleString("en")} msg/s**; with p99 <= 20 ms: ` +
      `**${e.sustained.toLocaleString("en")} msg/s**.`,
    "",
    table(
      [
        "phase",
        "offered/s",
        "delivered/s",
        "p50 / p99 / p99.9 ms",
        "lost",
        "errors",
        `CPU: ${e.cpuOrder.join(" / ")}`,
        "",
      ],
      rows,
    ),
    e.error ? `\nFailed: ${e.error}` : "",
  ].join("\n");
}

function chartPoints(d: DeliveryData | undefined, e: E2eData | undefined): ChartPoint[] {
  const out: ChartPoint[] = [];
  const add = (system: string, steps: readonly Step[]) => {
    const byRate = new Map<number, Step>();
    for (const s of steps)
      if (s.latencyMs.count > 0 && s.keptUp) byRate.set(s.offered, s);
    for (const s of [...byRate.values()].sort((a, b) => a.offered - b.offered)) {
      for (const percentile of ["p50", "p99"] as const) {
        out.push({ system, offered: s.offered, percentile, ms: s.latencyMs[percentile] });
      }
    }
  };
  for (const r of d?.runs ?? []) add(NAMES[r.system]!, r.steps);
  if (e) add("ours, end to end", e.steps);
  return out;
}

function sustained(d: DeliveryData, system: string): string {
  return (d.runs.find((r) => r.system === system)?.sustained ?? 0).toLocaleString("en");
}

/** The last step at `rate` (a retried step counts as its retry). */
function lastAt(r: SystemRun | undefined, rate: number): Step | undefined {
  return r?.steps.filter((s) => s.offered === rate).at(-1);
}

function cell(s: Step | undefined): string {
  if (!s) return "-";
  const l = s.latencyMs;
  const mark = s.pass ? "" : s.keptUp ? " (p99 over 20)" : " (did not keep up)";
  return (
    `${s.deliveredPerSec.toLocaleString("en")}/s, ${l.p50} / ${l.p99} / ${l.p999} ms, ` +
    `lost ${s.lost}${mark}`
  );
}

/** Server CPU (µs) per delivered message: server processes only, Redis (last) excluded. */
function cpuPerMessage(s: Step | undefined): number | undefined {
  if (!s || !s.keptUp || s.deliveredPerSec === 0 || s.serverCpu.length < 2)
    return undefined;
  const cores = s.serverCpu.slice(0, -1).reduce((a, b) => a + b, 0);
  return (cores * 1e6) / s.deliveredPerSec;
}

/** CPU µs per delivered message: servers, Redis, other processes and load generator. */
function totalCpuPerMessage(s: Step | undefined): number | undefined {
  if (!s || !s.keptUp || s.deliveredPerSec === 0) return undefined;
  const sum = (xs: number[]) => xs.filter(Number.isFinite).reduce((a, b) => a + b, 0);
  const cores =
    sum(s.serverCpu) + sum(Object.values(s.otherCpu ?? {})) + (s.loadgenCpu ?? 0);
  return (cores * 1e6) / s.deliveredPerSec;
}

/** Messages per second two dedicated cores would carry at the step's CPU cost. */
function capacity(s: Step | undefined): number | undefined {
  const us = totalCpuPerMessage(s);
  return us ? (2 * 1e6) / us : undefined;
}

function fmtRate(r: number): string {
  return `${(Math.round(r / 100) * 100).toLocaleString("en")}/s`;
}

function fmtUs(us: number | undefined): string {
  return us === undefined ? "-" : `${Math.round(us)} µs`;
}
