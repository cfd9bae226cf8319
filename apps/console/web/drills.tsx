// A button per drill scenario (disabled, with the reason, where the running
// system cannot run it), the progress of the drill in progress and the report
// of the last one.
import { useState } from "preact/hooks";

import { postJson, type DrillView, type ScenarioView } from "./api.ts";

interface DrillPanelProps {
  readonly regions: readonly string[];
  /** The region selected at first. */
  readonly defaultRegion: string;
  readonly scenarios: readonly ScenarioView[];
  readonly drill: DrillView | null;
}

export function DrillPanel({
  regions,
  defaultRegion,
  scenarios,
  drill,
}: DrillPanelProps) {
  const [region, setRegion] = useState(
    regions.includes(defaultRegion) ? defaultRegion : (regions[0] ?? ""),
  );
  const [error, setError] = useState<string | null>(null);
  const running = drill?.status === "running";

  const start = async (scenario: string) => {
    setError(null);
    try {
      await postJson("/api/drills", { scenario, region });
    } catch (err) {
      setError((err as Error).message);
    }
  };

  return (
    <section class="panel drills">
      <header>
        <h2>Drills</h2>
        <label>
          region{" "}
          <select
            data-testid="drill-region"
            value={region}
            onChange={(e) => setRegion(e.currentTarget.value)}
          >
            {regions.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
      </header>
      <ul class="scenarios">
        {scenarios.map((s) => {
          const why = s.unavailable[region];
          return (
            <li key={s.scenario}>
              <button
                type="button"
                data-scenario={s.scenario}
                disabled={running || why !== undefined}
                title={why ?? `run ${s.scenario} in ${region}`}
                onClick={() => void start(s.scenario)}
              >
                {s.scenario}
              </button>
              {why && <span class="why">{why}</span>}
            </li>
          );
        })}
      </ul>
      {error && <p class="error">{error}</p>}
      {drill ? <DrillProgress drill={drill} /> : <p class="muted">no drill run yet</p>}
    </section>
  );
}

const STATUS_TEXT = Object.freeze({
  running: "running…",
  passed: "PASSED",
  failed: "FAILED",
  error: "ERROR",
});

function DrillProgress({ drill }: { drill: DrillView }) {
  const r = drill.report;
  return (
    <div class="drill" data-testid="drill" data-status={drill.status}>
      <h3>
        {drill.scenario} in {drill.region}{" "}
        <span class={`badge ${drill.status}`}>{STATUS_TEXT[drill.status]}</span>
      </h3>
      {r && (
        <p class="summary">
          {`sent ${r.sent}, delivered ${r.delivered}, lost ${r.lost}, ` +
            `duplicated ${r.duplicated}, out of order ${r.outOfOrder}; ` +
            `detected in ${r.timeToDetectMs ?? "–"} ms, ` +
            `receiving again p99 ${r.recovery?.p99 ?? "–"} ms`}
        </p>
      )}
      {drill.error && <p class="error">{drill.error}</p>}
      <pre class="log">{drill.reportText ?? drill.lines.join("\n")}</pre>
    </div>
  );
}
