// Summarises a V8 heap snapshot (`--heapsnapshot-signal`): retained-by-type
// is too costly to compute here, so this adds up self sizes by constructor
// (or node type) and, given how many connections the process held, says how
// many bytes of each that is per connection. With a second snapshot taken
// before connecting, it shows the difference. `npx tsx bench/heap-summary.ts
// <after.heapsnapshot> [connections] [top] [before.heapsnapshot]`.
import { readFileSync } from "node:fs";

interface Snapshot {
  readonly snapshot: {
    readonly meta: {
      readonly node_fields: string[];
      readonly node_types: [string[], ...unknown[]];
    };
  };
  readonly nodes: number[];
  readonly strings: string[];
}

export interface HeapRow {
  readonly what: string;
  readonly count: number;
  readonly bytes: number;
}

export function summarizeHeap(file: string): { total: number; rows: HeapRow[] } {
  const snap = JSON.parse(readFileSync(file, "utf8")) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const groups = new Map<string, { count: number; bytes: number }>();
  let total = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    const size = snap.nodes[i + sizeAt]!;
    const name = snap.strings[snap.nodes[i + nameAt]!]!;
    const what =
      type === "object" || type === "closure" ? `${type} ${name}` : `(${type})`;
    const g = groups.get(what) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += size;
    groups.set(what, g);
    total += size;
  }
  const rows = [...groups].map(([what, g]) => ({ what, ...g }));
  rows.sort((a, b) => b.bytes - a.bytes);
  return { total, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, conns, top, baseline] = process.argv.slice(2);
  if (!file) {
    console.error(
      "usage: tsx bench/heap-summary.ts <after.heapsnapshot> [connections] [top] [before]",
    );
    process.exit(2);
  }
  const n = Number(conns ?? 1);
  const after = summarizeHeap(file);
  const before = baseline ? summarizeHeap(baseline) : { total: 0, rows: [] };
  const was = new Map(before.rows.map((r) => [r.what, r]));
  const rows = after.rows
    .map((r) => ({
      what: r.what,
      count: r.count - (was.get(r.what)?.count ?? 0),
      bytes: r.bytes - (was.get(r.what)?.bytes ?? 0),
    }))
    .sort((a, b) => b.bytes - a.bytes);
  const total = after.total - before.total;
  console.log(
    `heap ${(total / 2 ** 20).toFixed(1)} MiB, ${(total / n).toFixed(0)} B per conn`,
  );
  for (const r of rows.slice(0, Number(top ?? 30))) {
    const per = (r.bytes / n).toFixed(0).padStart(6);
    const each = (r.count / n).toFixed(1).padStart(5);
    console.log(`${per} B/conn ${each} per conn  ${r.what}`);
  }
}
