// Probes the running local system for the console: per region, Redis,
// ZooKeeper, WSS and chat server state (chatctl status's probes), plus message
// rates computed from successive /metrics scrapes.
import type { LocalSystem } from "../local/runtime.ts";
import { collectStatus, type RegionStatus } from "../ops/status.ts";
import type { CsView, RegionView, SystemView, WssView } from "./api.ts";

export interface ProbeOptions {
  /** Longest wait for any one probe, ms. @default 800 */
  readonly timeoutMs?: number;
}

interface Sample {
  readonly at: number;
  readonly value: number;
}

const DEFAULTS = Object.freeze({ timeoutMs: 800 });

/** Probes one system; keeps the last counter samples so that each poll can give rates. */
export class SystemProbe {
  private readonly samples = new Map<string, Sample>();
  private readonly timeoutMs: number;

  constructor(
    private readonly system: LocalSystem,
    options: ProbeOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? DEFAULTS.timeoutMs;
  }

  /** One look at every region; never rejects, never waits much past the timeout. */
  async poll(): Promise<SystemView> {
    const at = Date.now();
    const [status, rates] = await Promise.all([
      collectStatus(this.system.status, this.system.options.secrets, {
        timeoutMs: this.timeoutMs,
      }),
      this.scrapeRates(),
    ]);
    return { at, regions: status.regions.map((r) => this.view(r, rates)) };
  }

  private view(r: RegionStatus, rates: Map<string, number | null>): RegionView {
    const wss: WssView[] = r.wss.map((w) => ({
      name: this.nameOf(w.url, "wss"),
      url: w.url,
      up: w.up,
      connections: w.connections,
      deliveredPerS: rates.get(`${w.url} delivered`) ?? null,
      ...(w.error === undefined ? {} : { error: w.error }),
    }));
    const cs: CsView = {
      name: this.nameOf(r.cs.url, "cs"),
      url: r.cs.url,
      up: r.cs.up,
      storedPerS: rates.get(`${r.cs.url} stored`) ?? null,
      forwardedPerS: rates.get(`${r.cs.url} forwarded`) ?? null,
      inboxBacklog: r.cs.inboxBacklog,
      ...(r.cs.error === undefined ? {} : { error: r.cs.error }),
    };
    return {
      region: r.region,
      ok: r.ok,
      redis: {
        url: r.redis.url,
        up: r.redis.up,
        role: r.redis.role,
        replicas: r.redis.connectedReplicas,
        ...(r.redis.error === undefined ? {} : { error: r.redis.error }),
      },
      zookeeper: {
        quorum: r.zookeeper.quorum,
        nodes: r.zookeeper.nodes.map((n) => ({
          address: n.address,
          up: n.up,
          mode: n.mode,
        })),
      },
      wss,
      cs,
    };
  }

  /** Rates keyed `<url> delivered|stored|forwarded`; null when a scrape failed. */
  private async scrapeRates(): Promise<Map<string, number | null>> {
    const rates = new Map<string, number | null>();
    const jobs: Promise<void>[] = [];
    for (const region of Object.values(this.system.status.regions)) {
      for (const url of region.wss) {
        jobs.push(
          this.scrape(httpBase(url)).then((text) => {
            const sent =
              text === null
                ? null
                : counter(text, "chat_wss_frames_out_total", 'type="msg"');
            rates.set(`${url} delivered`, this.rate(`${url} delivered`, sent));
          }),
        );
      }
      jobs.push(
        this.scrape(region.cs).then((text) => {
          for (const route of ["local", "forwarded"]) {
            const key = `${region.cs} ${route === "local" ? "stored" : route}`;
            const total =
              text === null
                ? null
                : counter(text, "chat_cs_messages_accepted_total", `route="${route}"`);
            rates.set(key, this.rate(key, total));
          }
        }),
      );
    }
    await Promise.all(jobs);
    return rates;
  }

  private async scrape(base: string): Promise<string | null> {
    try {
      const res = await fetch(`${base}/metrics`, {
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      return res.ok ? await res.text() : null;
    } catch {
      return null;
    }
  }

  /** Per second since the last sample of `key`; a restarted process counts from 0. */
  private rate(key: string, value: number | null): number | null {
    if (value === null) {
      this.samples.delete(key);
      return null;
    }

    const now = Date.now();
    const prev = this.samples.get(key);
    this.samples.set(key, { at: now, value });
    if (!prev || now <= prev.at) return null;
    const delta = value >= prev.value ? value - prev.value : value;
    return Math.round((delta * 10_000) / (now - prev.at)) / 10;
  }

  private nameOf(url: string, kind: "wss" | "cs"): string {
    const port = Number(new URL(httpBase(url)).port);
    for (const p of this.system.processes.values()) {
      if (p.kind === kind && p.port === port) return p.name;
    }
    return url;
  }
}

/** The HTTP base of a WSS URL (`ws://h:p/v1/ws` -> `http://h:p`), or a URL as it is. */
function httpBase(url: string): string {
  return url.replace(/^ws/, "http").replace(/\/v1\/ws$/, "");
}

/**
 * Sum of the samples of a counter in Prometheus text whose labels include
 * `label` (e.g. `type="msg"`); 0 when the counter has no such sample yet.
 */
function counter(text: string, name: string, label: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;

    const close = line.lastIndexOf("}");
    const labels = line.slice(name.length + 1, close).split(",");
    if (!labels.includes(label)) continue;
    const value = Number(
      line
        .slice(close + 1)
        .trim()
        .split(/\s+/)[0],
    );
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}
