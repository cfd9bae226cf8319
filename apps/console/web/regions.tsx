// One panel per region: Redis, ZooKeeper, WSS and chat server state, connection
// counts and message rates, with the delivery rate of the last minute drawn.
import type { RegionView, WssView } from "./api.ts";

interface RegionPanelProps {
  readonly region: string;
  readonly view: RegionView | undefined;
  /** Messages delivered per second, one point per probe, oldest first. */
  readonly history: readonly number[];
}

export function RegionPanel({ region, view, history }: RegionPanelProps) {
  if (!view) {
    return (
      <section class="panel region" data-region={region} data-health="unknown">
        <h2>{region}</h2>
        <p class="muted">waiting for the first probe…</p>
      </section>
    );
  }

  const connections = sum(view.wss.map((w) => w.connections));
  const delivered = sum(view.wss.map((w) => w.deliveredPerS));
  const zkModes = view.zookeeper.nodes.map((n) => n.mode ?? "down").join(", ");
  const replicas = view.redis.replicas ?? 0;
  return (
    <section
      class="panel region"
      data-region={region}
      data-health={view.ok ? "ok" : "down"}
    >
      <header>
        <h2>{region}</h2>
        <Badge ok={view.ok} yes="healthy" no="degraded" />
      </header>
      <div class="totals">
        <Stat label="connections" value={connections} />
        <Stat label="delivered msg/s" value={delivered} />
        <Stat label="stored msg/s" value={view.cs.storedPerS} />
        <Stat label="forwarded msg/s" value={view.cs.forwardedPerS} />
      </div>
      <Sparkline points={history} />
      <table class="components">
        <tbody>
          <tr data-component="redis">
            <th>Redis</th>
            <td>
              <Badge ok={view.redis.up} yes="up" no="down" />
            </td>
            <td>
              {view.redis.up
                ? `${view.redis.role ?? "?"}, ${replicas} replica${replicas === 1 ? "" : "s"}`
                : view.redis.error}
            </td>
          </tr>
          <tr data-component="zookeeper">
            <th>ZooKeeper</th>
            <td>
              <Badge ok={view.zookeeper.quorum} yes="quorum" no="no quorum" />
            </td>
            <td>{zkModes}</td>
          </tr>
          {view.wss.map((w) => (
            <WssRow key={w.url} wss={w} />
          ))}
          <tr data-component="cs">
            <th>{view.cs.name}</th>
            <td>
              <Badge ok={view.cs.up} yes="up" no="down" />
            </td>
            <td>
              {view.cs.up
                ? `inbox backlog ${view.cs.inboxBacklog ?? "?"}`
                : (view.cs.error ?? "not ready")}
            </td>
          </tr>
        </tbody>
      </table>
    </section>
  );
}

function WssRow({ wss }: { wss: WssView }) {
  return (
    <tr data-component="wss" data-name={wss.name}>
      <th>{wss.name}</th>
      <td>
        <Badge ok={wss.up} yes="up" no="down" />
      </td>
      <td>
        {wss.up
          ? `${wss.connections ?? "?"} conn, ${fmt(wss.deliveredPerS)} msg/s`
          : (wss.error ?? "not ready")}
      </td>
    </tr>
  );
}

export function Badge({ ok, yes, no }: { ok: boolean; yes: string; no: string }) {
  return <span class={`badge ${ok ? "ok" : "bad"}`}>{ok ? yes : no}</span>;
}

function Stat({ label, value }: { label: string; value: number | null }) {
  return (
    <div class="stat">
      <span class="value">{fmt(value)}</span>
      <span class="label">{label}</span>
    </div>
  );
}

const SPARK_W = 240;
const SPARK_H = 36;

/** The delivery rate over the last probes, scaled to its own maximum. */
function Sparkline({ points }: { points: readonly number[] }) {
  const max = Math.max(1, ...points);
  const step = points.length > 1 ? SPARK_W / (points.length - 1) : 0;
  const line = points
    .map(
      (p, i) => `${(i * step).toFixed(1)},${(SPARK_H - (p / max) * SPARK_H).toFixed(1)}`,
    )
    .join(" ");
  return (
    <svg class="spark" viewBox={`0 0 ${SPARK_W} ${SPARK_H}`} preserveAspectRatio="none">
      <title>delivered msg/s, last minute (max {fmt(max)})</title>
      <polyline points={line} />
    </svg>
  );
}

function sum(values: readonly (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length === 0 ? null : known.reduce((a, b) => a + b, 0);
}

function fmt(n: number | null): string {
  if (n === null) return "–";
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
