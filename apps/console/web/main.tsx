// The console page: region panels fed by the server's event stream, the drill
// panel and the chat pane. Everything it loads comes from the console server.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";

import type { ConsoleState, DrillView, SystemView } from "./api.ts";
import { ChatPane } from "./chat.tsx";
import { DrillPanel } from "./drills.tsx";
import { Badge, RegionPanel } from "./regions.tsx";

/** Probes kept for each region's delivery-rate line (about a minute). */
const HISTORY = 60;
/** The chat pane's users at first; drills default to the first one's region. */
const DEFAULT_USERS = ["alice:usa", "bob:eu"] as const;

function App() {
  const [state, setState] = useState<ConsoleState | null>(null);
  const [live, setLive] = useState(false);
  const [history, setHistory] = useState<Record<string, number[]>>({});

  useEffect(() => {
    const events = new EventSource("/api/events");
    const onSystem = (system: SystemView | null) => {
      if (!system) return;
      setHistory((h) => withProbe(h, system));
    };
    events.addEventListener("state", (e) => {
      const s = JSON.parse(e.data as string) as ConsoleState;
      setState(s);
      onSystem(s.system);
    });
    events.addEventListener("system", (e) => {
      const system = JSON.parse(e.data as string) as SystemView;
      setState((s) => s && { ...s, system });
      onSystem(system);
    });
    events.addEventListener("drill", (e) => {
      const drill = JSON.parse(e.data as string) as DrillView;
      setState((s) => s && { ...s, drill });
    });
    events.onopen = () => setLive(true);
    events.onerror = () => setLive(false);
    return () => events.close();
  }, []);

  if (!state) return <p class="muted loading">connecting to the console server…</p>;

  const views = new Map(state.system?.regions.map((r) => [r.region, r]));
  const allOk = state.regions.every((r) => views.get(r)?.ok === true);
  return (
    <>
      <header class="top">
        <h1>chat console</h1>
        <span class="muted">local mode, {state.fanout} fan-out</span>
        <Badge ok={allOk} yes="all regions healthy" no="a region is degraded" />
        <span class={`live ${live ? "on" : "off"}`}>
          {live ? "live" : "console server unreachable"}
        </span>
      </header>
      <main>
        <div class="regions">
          {state.regions.map((r) => (
            <RegionPanel
              key={r}
              region={r}
              view={views.get(r)}
              history={history[r] ?? []}
            />
          ))}
        </div>
        <div class="lower">
          <DrillPanel
            regions={state.regions}
            defaultRegion={DEFAULT_USERS[0].split(":")[1]!}
            scenarios={state.scenarios}
            drill={state.drill}
          />
          <ChatPane defaults={DEFAULT_USERS} />
        </div>
      </main>
    </>
  );
}

/** Appends each region's delivered rate of this probe to its history. */
function withProbe(
  history: Record<string, number[]>,
  system: SystemView,
): Record<string, number[]> {
  const next = { ...history };
  for (const r of system.regions) {
    const rate = r.wss.reduce((sum, w) => sum + (w.deliveredPerS ?? 0), 0);
    next[r.region] = [...(history[r.region] ?? []), rate].slice(-HISTORY);
  }
  return next;
}

render(<App />, document.getElementById("app")!);
