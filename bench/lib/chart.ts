// The chart of docs/benchmarks.md: latency against offered rate for ours and
// the peers (delivery path) and for ours end to end, rendered to SVG with
// Vega-Lite, headless.
import { writeFileSync } from "node:fs";

import * as vega from "vega";
import * as vl from "vega-lite";

export interface ChartPoint {
  readonly system: string;
  readonly offered: number;
  readonly percentile: "p50" | "p99";
  readonly ms: number;
}

/** Renders the points to an SVG file; returns its path. */
export async function renderLatencyChart(
  points: ChartPoint[],
  file: string,
): Promise<string> {
  const spec = vl.compile({
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    title: {
      text: "Latency against offered rate (1 KiB messages, 1,000 users)",
      subtitle: "sender's scheduled time to receipt; 2 cores, load generator included",
    },
    width: 640,
    height: 360,
    background: "white",
    data: { values: points },
    mark: { type: "line", point: true },
    encoding: {
      x: {
        field: "offered",
        type: "quantitative",
        title: "offered rate (msg/s)",
        scale: { type: "log" },
      },
      y: {
        field: "ms",
        type: "quantitative",
        title: "latency (ms, log scale)",
        scale: { type: "log" },
      },
      color: {
        field: "system",
        type: "nominal",
        title: "system",
        legend: { labelLimit: 320 },
      },
      strokeDash: { field: "percentile", type: "nominal", title: "percentile" },
      shape: { field: "percentile", type: "nominal", legend: null },
    },
  }).spec;
  const view = new vega.View(vega.parse(spec), { renderer: "none" });
  const svg = await view.toSVG();
  view.finalize();
  writeFileSync(file, svg);
  return file;
}
