// chatctl status against a real local region, and against endpoints that are down or
// hang: every probe gives up quickly and the status says which component is down.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { RegionEndpoints } from "../../apps/local/runtime.ts";
import { collectStatus, formatStatus } from "../../apps/ops/status.ts";
import { chatctl } from "../helpers/chatctl.ts";
import { TestSystem } from "../helpers/system.ts";

describe("collectStatus", () => {
  let system: TestSystem;
  let silent: Server;
  let silentPort: number;
  const held: Socket[] = [];

  beforeAll(async () => {
    system = await TestSystem.start({ only: ["usa"] });
    // Accepts connections and never answers: a hung Redis, ZooKeeper or HTTP server.
    silent = createServer((sock) => void held.push(sock));
    await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
    silentPort = (silent.address() as { port: number }).port;
  });

  afterAll(async () => {
    for (const s of held) s.destroy();
    await new Promise((r) => silent?.close(r));
    await system?.stop();
  });

  it("reports every component of a running region as up", async () => {
    const client = await system.client("alice:usa");

    const status = await collectStatus(system.status, system.secrets);

    expect(status.ok).toBe(true);
    const usa = status.regions.find((r) => r.region === "usa")!;
    expect(usa.redis).toMatchObject({ up: true, role: "master" });
    expect(usa.zookeeper.quorum).toBe(true);
    expect(usa.zookeeper.nodes.length).toBeGreaterThanOrEqual(1);
    for (const n of usa.zookeeper.nodes) {
      expect(["standalone", "leader", "follower"]).toContain(n.mode);
    }
    expect(usa.wss).toHaveLength(2);
    expect(usa.wss.every((w) => w.up)).toBe(true);
    expect(usa.wss.reduce((sum, w) => sum + (w.connections ?? 0), 0)).toBe(1);
    expect(usa.cs.up).toBe(true);
    expect(usa.cs.inboxBacklog).toBeTypeOf("number");
    expect(formatStatus(status)).toMatch(/all up\n$/);
    client.close();
  });

  it("reports hung and closed endpoints as down within the timeout", async () => {
    const hung = `127.0.0.1:${silentPort}`;
    const usa = system.region("usa");
    const broken: RegionEndpoints = {
      wss: [usa.wss[0]!, `ws://${hung}/v1/ws`],
      cs: `http://${hung}`,
      redis: `redis://${hung}`,
      zookeeper: `${usa.zookeeper},${hung}`,
    };
    const started = Date.now();

    const status = await collectStatus({ regions: { usa: broken } }, system.secrets, {
      timeoutMs: 500,
    });

    // Each probe gives up after 500 ms; the margin is for a loaded machine.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(status.ok).toBe(false);
    const r = status.regions[0]!;
    expect(r.redis.up).toBe(false);
    expect(r.wss.map((w) => w.up)).toEqual([true, false]);
    expect(r.cs.up).toBe(false);
    expect(r.zookeeper.nodes.map((n) => n.up)).toEqual([true, false]);
    // One of two nodes serving is not a majority.
    expect(r.zookeeper.quorum).toBe(false);
    expect(formatStatus(status)).toMatch(/DOWN: usa redis, usa zookeeper quorum/);
  });

  it("chatctl status --json reads the state file and exits 0 when all is up", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chatctl-status-"));
    try {
      const state = { ...system.status, pid: process.pid };
      writeFileSync(join(dir, "state.json"), JSON.stringify(state));
      writeFileSync(join(dir, "secrets.json"), JSON.stringify(system.secrets));

      const run = await chatctl(["status", "--json"], { CHAT_LOCAL_DIR: dir });

      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      const json = JSON.parse(run.stdout) as { ok: boolean; regions: unknown[] };
      expect(json.ok).toBe(true);
      expect(json.regions).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("collectStatus with a ZooKeeper ensemble and a Redis replica", () => {
  let system: TestSystem;

  beforeAll(async () => {
    system = await TestSystem.start({ only: ["usa"], zkEnsemble: 3, redisReplica: true });
  });

  afterAll(async () => {
    await system?.stop();
  });

  it("shows each node's mode, the quorum, and the primary's replica", async () => {
    const usa = (await collectStatus(system.status, system.secrets)).regions[0]!;

    expect(usa.ok).toBe(true);
    expect(usa.redis).toMatchObject({ up: true, role: "master", connectedReplicas: 1 });
    expect(usa.zookeeper.quorum).toBe(true);
    expect(usa.zookeeper.nodes.map((n) => n.mode).sort()).toEqual([
      "follower",
      "follower",
      "leader",
    ]);
  });

  it("keeps the quorum but reports a lost node as down", async () => {
    const before = (await collectStatus(system.status, system.secrets)).regions[0]!;
    const follower = before.zookeeper.nodes.find((n) => n.mode === "follower")!;
    const port = Number(follower.address.split(":")[1]);
    const victim = system.local
      .ofRegion("usa")
      .find((p) => p.kind === "zookeeper" && p.port === port)!;

    await system.local.signal(victim.name, "SIGKILL");
    const status = await collectStatus(system.status, system.secrets);

    const usa = status.regions[0]!;
    expect(status.ok).toBe(false);
    expect(usa.zookeeper.quorum).toBe(true);
    expect(usa.zookeeper.nodes.filter((n) => n.up)).toHaveLength(2);
    // Apps whose session was on that node are not ready until it has moved to another,
    // so they may be listed after it; the quorum itself is never.
    const summary = formatStatus(status).trimEnd().split("\n").at(-1)!;
    expect(summary.startsWith(`DOWN: usa zookeeper ${follower.address}`)).toBe(true);
    expect(summary).not.toMatch(/quorum/);
  });
});
