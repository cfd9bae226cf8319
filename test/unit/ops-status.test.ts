// chatctl status when the local system is not running or its components are down:
// a clear message or a DOWN line, exit code 1, and no hanging.
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { describe, expect, it } from "vitest";

import { chatctl } from "../helpers/chatctl.ts";

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe("chatctl status", () => {
  it("says how to start the local system when it is not running", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ops-status-"));

    const run = await chatctl(["status"], { CHAT_LOCAL_DIR: dir });

    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/not running; start it with: npm start/);
  });

  it("reports every component down, exit 1, as a table and as JSON", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ops-status-"));
    const port = await closedPort();
    const at = `127.0.0.1:${port}`;
    const state = {
      pid: process.pid,
      dir,
      dynamo: `http://${at}`,
      regions: {
        usa: {
          wss: [`ws://${at}/v1/ws`],
          cs: `http://${at}`,
          redis: `redis://${at}`,
          zookeeper: at,
        },
      },
    };
    writeFileSync(join(dir, "state.json"), JSON.stringify(state));

    const table = await chatctl(["status"], { CHAT_LOCAL_DIR: dir });
    const json = await chatctl(["status", "--json"], { CHAT_LOCAL_DIR: dir });

    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(
      new RegExp(
        `DOWN: usa redis, usa zookeeper quorum, usa zookeeper ${at}, ` +
          `usa wss ws://${at}/v1/ws, usa chat server\\n$`,
      ),
    );
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.ok).toBe(false);
    expect(parsed.regions[0]).toMatchObject({
      region: "usa",
      redis: { up: false },
      zookeeper: { quorum: false },
      cs: { up: false },
    });
  });

  it("refuses unknown flags as a usage error", async () => {
    const run = await chatctl(["status", "--yaml"]);

    expect(run.code).toBe(2);
  });
});
