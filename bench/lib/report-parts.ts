// Pieces of the benchmark report: the sections of the idle-memory, storm
// and synth benchmarks, and the table and number formatting they all use.
import type { MemoryData } from "../memory.ts";
import type { StormData } from "../storm.ts";
import type { SynthData } from "../synth-run.ts";

export const NAMES: Record<string, string> = {
  ours: "ours",
  gateway: "bare gateway",
  socketio: "Socket.IO + Redis adapter",
};

export function memorySection(m: MemoryData): string {
  const rows = m.runs.map((r) => [
    NAMES[r.system]!,
    r.connections.toLocaleString("en"),
    `${fmt(r.rssBeforeKiB / 1024, 1)} -> ${fmt(r.rssAfterKiB / 1024, 1)}`,
    `**${r.perConnectionKiB}**`,
    r.connectsPerSec.toLocaleString("en"),
    String(r.cpuMsPerConnection),
    r.error ?? "",
  ]);
  const ours = m.runs.find((r) => r.system === "ours");
  const sys = ours
    ? Object.entries(ours.systemCpuMsPerConnection)
        .map(([k, v]) => `${k} ${v}`)
        .join(", ")
    : "";
  return [
    "### 3. Idle memory",
    "",
    `${m.connections.toLocaleString("en")} idle connections, one user each, on one server ` +
      "process. Ratio of ours per connection: " +
      `${m.ratios.vsGateway ?? "n/a"}x the bare gateway, ` +
      `${m.ratios.vsSocketIo ?? "n/a"}x Socket.IO.`,
    "",
    table(
      [
        "system",
        "connections",
        "server RSS MiB",
        "KiB per connection",
        "connects/s",
        "server CPU ms per connect",
        "",
      ],
      rows,
    ),
    sys ? `\nCPU per connect, every process of ours (ms): ${sys}.` : "",
  ].join("\n");
}

export function stormSection(s: StormData): string {
  const rows = s.runs.map((r) => {
    const rec = r.recovery;
    const end = r.end;
    return [
      NAMES[r.system]!,
      rec ? String(rec.affected) : "-",
      rec ? `${rec.setupMs.p50} / ${rec.setupMs.max}` : "-",
      rec ? `${rec.reconnectMs.p50} / ${rec.reconnectMs.max}` : "-",
      rec ? `${rec.receiveMs.p50} / **${rec.receiveMs.max}**` : "-",
      rec ? String(rec.notRecovered) : "-",
      rec?.backgroundBacklogAtKill !== undefined
        ? String(rec.backgroundBacklogAtKill)
        : "-",
      end ? `${end.lost} (${end.lostAffected} to affected)` : "-",
      end ? String(end.duplicated) : "-",
      r.error ?? "",
    ];
  });
  const ours = s.runs.find((r) => r.system === "ours");
  const load: string[] = [];
  if (ours?.zookeeper && ours.inbox) {
    // A process with no CPU figure is the one that was killed.
    const kv = (o: Record<string, number | null>) =>
      Object.entries(o)
        .map(([k, v]) => `${k} ${v === null || Number.isNaN(v) ? "(killed)" : v}`)
        .join(", ");
    load.push(
      "",
      "Load the storm put on ours' stores (kill to last client receiving again), against " +
        "the steady state before the kill:",
      "",
      table(
        ["store", "steady, per second", "storm, total"],
        [
          ["ZooKeeper (mntr)", kv(ours.zookeeper.steadyPerSec), kv(ours.zookeeper.storm)],
          ["inbox requests", kv(ours.inbox.steadyPerSec), kv(ours.inbox.storm)],
        ],
      ),
      "",
      `CPU during the storm (share of a core): ${kv(ours.stormCpu)}.`,
    );
  }
  return [
    "### 4. Reconnect storm",
    "",
    `${s.clients.toLocaleString("en")} clients over two servers, ${s.backgroundRate} ` +
      "msg/s of background traffic to all of them; one server SIGKILLed. Times in ms " +
      "from the kill (setup: from the successful attempt to hello). Ratio of the last " +
      `client receiving again, ours: ${s.ratios.receiveMaxVsGateway ?? "n/a"}x the bare ` +
      `gateway, ${s.ratios.receiveMaxVsSocketIo ?? "n/a"}x Socket.IO. "Background behind ` +
      'at kill": background messages due but not yet answered when the server was ' +
      "killed; near 0 means the system kept up before the storm.",
    "",
    table(
      [
        "system",
        "clients affected",
        "setup p50 / max",
        "connected again p50 / max",
        "receiving again p50 / max",
        "not recovered",
        "background behind at kill",
        "lost",
        "duplicated",
        "",
      ],
      rows,
    ),
    ...load,
  ].join("\n");
}

export interface SynthReport {
  readonly runs: number;
  readonly stacks: string[];
  readonly wallMs: { median: number; max: number };
  readonly peakRssMiB: { median: number; max: number };
  readonly withinLimits: boolean;
}

export function synthSection(s: SynthData | undefined): string {
  const rep = s?.report as SynthReport | undefined;
  if (!s?.available || !rep) {
    const why = s?.available ? `it printed no JSON (exit ${s.exitCode})` : "pending";
    return `### 5. Synth\n\n\`bench/synth.ts\` (written apart): ${why}.`;
  }
  return [
    "### 5. Synth",
    "",
    `\`npx tsx bench/synth.ts\`: ${rep.stacks.length} stacks (${rep.stacks.join(", ")}), ` +
      `${rep.runs} runs in fresh processes.`,
    "",
    table(
      ["", "median", "worst", "limit"],
      [
        [
          "wall time, s",
          fmt(rep.wallMs.median / 1000, 2),
          fmt(rep.wallMs.max / 1000, 2),
          "2",
        ],
        [
          "peak RSS, MiB",
          fmt(rep.peakRssMiB.median, 0),
          fmt(rep.peakRssMiB.max, 0),
          "300",
        ],
      ],
    ),
  ].join("\n");
}

export function fmtRatio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? "n/a" : fmt(a / b, 2);
}

export function fmt(x: number, digits: number): string {
  return Number.isFinite(x) ? x.toFixed(digits) : "n/a";
}

export function verdict(ok: boolean): string {
  return ok ? "met" : "**missed**";
}

export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}
