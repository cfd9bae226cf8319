// Readiness against an inbox store that accepts connections and never answers:
// the check must come back false within its timeout, not hang.
import { createServer, type Server, type Socket } from "node:net";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { inboxReachable } from "../../apps/shared/bootstrap.ts";
import { dynamoClient, Inbox } from "../../apps/shared/inbox.ts";

let stalled: Server;
const sockets: Socket[] = [];
let endpoint: string;

beforeAll(async () => {
  stalled = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => stalled.listen(0, "127.0.0.1", () => r()));
  const address = stalled.address();
  if (address === null || typeof address === "string") throw new Error("no port");
  endpoint = `http://127.0.0.1:${address.port}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => stalled.close(r));
});

describe("inbox readiness", () => {
  it("reports a store that never answers as unreachable within the timeout", async () => {
    const client = dynamoClient(endpoint, "local");
    const inbox = new Inbox(client);
    const t0 = performance.now();
    expect(await inboxReachable(client, inbox, 300)).toBe(false);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(5000);
    expect(sockets.length).toBeGreaterThan(0);
  });
});
