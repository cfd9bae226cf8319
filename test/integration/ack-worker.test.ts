// The acknowledgement worker against a real redis-server: every user's cursor
// is written once per flush, a bounded number at a time, and the stream
// entries are released only after their writes.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ACK_GROUP, ACK_STREAM, AckWorker } from "../../apps/chat-server/ack-worker.ts";
import {
  freePort,
  startRedis,
  stopProcess,
  tcpOpen,
  waitFor,
  type Service,
} from "../../apps/local/services.ts";
import type { Inbox } from "../../apps/shared/inbox.ts";
import { silentLogger } from "../../apps/shared/logger.ts";

const PASSWORD = "ack-worker-test-password";
let dir: string;
let redisService: Service;
let port: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "chat-ack-test-"));
  port = await freePort();
  redisService = startRedis("redis", { dir, port, password: PASSWORD });
  await waitFor("redis", () => tcpOpen(port), 20_000, redisService.proc);
});
afterAll(async () => {
  if (redisService) await stopProcess(redisService.proc);
  rmSync(dir, { recursive: true, force: true });
});

const connect = () => new Redis({ host: "127.0.0.1", port, password: PASSWORD });

/** An inbox whose cursor writes take a few milliseconds and count how many overlap. */
function slowInbox() {
  const written = new Map<string, number>();
  let inFlight = 0;
  let most = 0;
  const inbox = {
    ack: async (user: string, upTo: number) => {
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 3));
      written.set(user, upTo);
      inFlight--;
      return true;
    },
  };
  return { inbox: inbox as unknown as Inbox, written, most: () => most };
}

describe("acknowledgement worker", () => {
  it("writes each user's highest cursor, a few writes at a time", async () => {
    const producer = connect();
    const pipe = producer.pipeline();
    for (let i = 0; i < 200; i++) {
      // Two acknowledgements per user: only the higher one is written.
      pipe.xadd(ACK_STREAM, "*", "user", `u${i % 100}:usa`, "upTo", String(i));
    }
    await pipe.exec();

    const { inbox, written, most } = slowInbox();
    const worker = new AckWorker(
      connect(),
      inbox,
      "cs-1",
      silentLogger(),
      () => undefined,
      {
        flushMs: 50,
        blockMs: 50,
        writeConcurrency: 4,
      },
    );
    worker.start();
    const deadline = Date.now() + 10_000;
    while (worker.applied < 100 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await worker.stop();

    expect(written.size).toBe(100);
    expect(written.get("u7:usa")).toBe(107);
    expect(most()).toBe(4);
    // Released once written: nothing is left pending for the group.
    const pending = (await producer.xpending(ACK_STREAM, ACK_GROUP)) as [number];
    expect(pending[0]).toBe(0);
    producer.disconnect();
  });
});
