// Summarises a V8 CPU profile (`node --cpu-prof`): where the time went, by
// function (self time) and by package or project folder. Used to explain a
// figure that misses its goal; `npx tsx bench/profile-summary.ts <file or
// folder> [top] [url-pattern...]` (a pattern also prints the share of busy
// time spent inside matching scripts, callees included).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly seconds: number;
  /** Share of samples that were not idle. */
  readonly busy: number;
  readonly topFunctions: { readonly name: string; readonly share: number }[];
  readonly byArea: { readonly area: string; readonly share: number }[];
}

export function summarize(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const area = new Map<string, number>();
  let idle = 0;
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    if (f.functionName === "(idle)") idle += us;
    const where = f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : "";
    const name = `${f.functionName || "(anonymous)"} ${where}`.trim();
    fn.set(name, (fn.get(name) ?? 0) + us);
    const a = areaOf(f.url, f.functionName);
    area.set(a, (area.get(a) ?? 0) + us);
  }
  const share = (us: number) => Math.round((us / total) * 1000) / 10;
  const sorted = (m: Map<string, number>) => [...m].sort((x, y) => y[1] - x[1]);
  return {
    file: basename(file),
    seconds: Math.round((p.endTime - p.startTime) / 1e5) / 10,
    busy: Math.round(((total - idle) / total) * 1000) / 10,
    topFunctions: sorted(fn)
      .slice(0, top)
      .map(([name, us]) => ({ name, share: share(us) })),
    byArea: sorted(area)
      .slice(0, top)
      .map(([a, us]) => ({ area: a, share: share(us) })),
  };
}

/** `node_modules/<pkg>`, a project folder (`apps/wss`), node internals or V8. */
function areaOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith("(") ? functionName : "(native)";
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1]!;
  if (url.startsWith("node:")) return "node internals";
  const app = /\/(apps\/[^/]+|bench\/[^/]+)\//.exec(url);
  return app ? app[1]! : shortUrl(url);
}

function shortUrl(url: string): string {
  return url.replace(/^file:\/\/.*?\/(node_modules|apps|bench)\//, "$1/");
}

/**
 * Share of busy time (idle excluded) whose stack holds a frame from a script
 * matching `pattern`: what a library costs including what it calls.
 */
export function inclusiveShare(file: string, pattern: RegExp): number {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, boolean>();
  const matches = (id: number): boolean => {
    const known = hits.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const up = parent.get(id);
    const hit = pattern.test(n.callFrame.url) || (up !== undefined && matches(up));
    hits.set(id, hit);
    return hit;
  };
  let busy = 0;
  let inside = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    const dt = p.timeDeltas[i] ?? 0;
    if (byId.get(id)!.callFrame.functionName === "(idle)") continue;
    busy += dt;
    if (matches(id)) inside += dt;
  }
  return Math.round((inside / busy) * 1000) / 10;
}

/** The main thread's profile in a folder of profiles: the largest file. */
export function mainProfile(dir: string): string | undefined {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((f) => join(dir, f));
  return files.sort((a, b) => statSync(b).size - statSync(a).size)[0];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [arg, top, ...patterns] = process.argv.slice(2);
  const file = arg && statSync(arg).isDirectory() ? mainProfile(arg) : arg;
  if (!file) {
    console.error("usage: tsx bench/profile-summary.ts <file.cpuprofile | folder> [top]");
    process.exit(2);
  }
  const s = summarize(file, Number(top ?? 15));
  console.log(`${s.file}: ${s.seconds} s, ${s.busy}% busy`);
  console.log("by area:");
  for (const a of s.byArea) console.log(`  ${String(a.share).padStart(5)}%  ${a.area}`);
  console.log("by function (self):");
  for (const f of s.topFunctions)
    console.log(`  ${String(f.share).padStart(5)}%  ${f.name}`);
  for (const pat of patterns) {
    console.log(
      `busy time inside /${pat}/ (callees included): ${inclusiveShare(file, new RegExp(pat))}%`,
    );
  }
}
