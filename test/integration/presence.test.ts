// Presence against a real ZooKeeper: re-registration after a session is
// replaced touches only nodes of this WSS's own old session; a listing shows a
// connection from registration until it is removed or its session ends.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  freePort,
  startZooKeeper,
  stopProcess,
  waitFor,
  zkMode,
  type Service,
} from "../../apps/local/services.ts";
import { silentLogger } from "../../apps/shared/logger.ts";
import {
  ensurePresenceTree,
  listPresence,
  PresenceRegistrar,
  presencePath,
} from "../../apps/shared/presence.ts";
import { ZK, ZkSession } from "../../apps/shared/zk.ts";
import { eventually } from "../helpers/system.ts";

let zkServer: Service;
let dir: string;
let connect: string;
const sessions: ZkSession[] = [];

async function session(): Promise<ZkSession> {
  const s = new ZkSession({ connect, sessionTimeoutMs: 4000 });
  await s.start();
  sessions.push(s);
  return s;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "presence-test-"));
  const port = await freePort();
  zkServer = startZooKeeper("zk", { dir, port });
  connect = `127.0.0.1:${port}`;
  await waitFor(
    "zookeeper",
    async () => (await zkMode(port)) !== undefined,
    30_000,
    zkServer.proc,
  );
  const s = await session();
  await ensurePresenceTree(s);
});
afterAll(async () => {
  for (const s of sessions) s.close();
  await stopProcess(zkServer.proc);
  rmSync(dir, { recursive: true, force: true });
});

const conn = (user: string, c: string) => ({
  user,
  wss: "wss-a",
  conn: c,
  region: "usa",
  at: 1,
});

describe("presence registration after a session is replaced", () => {
  it("replaces its own old session's node and leaves another session's alone", async () => {
    const old = await session();
    const other = await session();
    const current = await session();
    const registrar = new PresenceRegistrar(current, silentLogger());

    const mine = conn("p1:usa", "c1");
    const theirs = conn("p2:usa", "c2");
    await old.create(presencePath(mine), "{}", ZK.EPHEMERAL);
    await other.create(presencePath(theirs), "{}", ZK.EPHEMERAL);

    // Registering while the nodes exist changes nothing yet.
    await registrar.register(mine);
    await registrar.register(theirs);
    expect((await current.exists(presencePath(mine)))?.ephemeralOwner).toBe(
      old.sessionId,
    );

    // The session was replaced: `old` was this WSS's previous session.
    current.emit("session", current.sessionId, old.sessionId);
    await eventually(
      "own stale node replaced",
      async () =>
        (await current.exists(presencePath(mine)))?.ephemeralOwner === current.sessionId,
    );
    expect((await current.exists(presencePath(theirs)))?.ephemeralOwner).toBe(
      other.sessionId,
    );
  });

  it("lists a connection from registration until removal or the end of its session", async () => {
    const reader = await session();
    const node = "watched:usa~wss-a~c9";
    const listed = async () => (await listPresence(reader)).includes(node);

    const wss = await session();
    const registrar = new PresenceRegistrar(wss, silentLogger());
    const c = conn("watched:usa", "c9");
    expect(await listed()).toBe(false);
    await registrar.register(c);
    expect(await listed()).toBe(true);
    await registrar.unregister(c);
    expect(await listed()).toBe(false);

    await registrar.register(c);
    expect(await listed()).toBe(true);
    wss.close();
    await eventually("gone when the WSS session closes", async () => !(await listed()));
    reader.close();
  });
});
