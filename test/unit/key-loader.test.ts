import type {
  AttributeValue,
  BatchGetItemCommand,
  DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";

import { KeyLoader } from "../../apps/shared/key-loader.ts";

type Key = { user: string; seq: number };

/** A store of (user, seq) items that records each BatchGetItem's keys. */
function store(items: Key[], unprocessedOnce = 0) {
  const requests: Key[][] = [];
  let withhold = unprocessedOnce;
  const raw = (k: Key) => ({ user: { S: k.user }, seq: { N: String(k.seq) } });
  const client = {
    send: async (cmd: BatchGetItemCommand) => {
      const req = cmd.input.RequestItems!.inbox!;
      const rawKeys = req.Keys as Record<string, AttributeValue>[];
      const keys = rawKeys.map((k) => ({ user: k.user!.S!, seq: Number(k.seq!.N) }));
      expect(req.ConsistentRead).toBe(true);
      requests.push(keys);
      const held = keys.slice(0, withhold);
      withhold = 0;
      const served = keys.slice(held.length);
      const hits = served.filter((k) =>
        items.some((i) => i.user === k.user && i.seq === k.seq),
      );
      return {
        Responses: {
          inbox: hits.map((k) => ({
            ...raw(k),
            ...(k.seq === 0 ? { acked: { N: "7" } } : {}),
          })),
        },
        UnprocessedKeys: held.length > 0 ? { inbox: { Keys: held.map(raw) } } : {},
      };
    },
  } as unknown as DynamoDBClient;
  return { client, requests };
}

describe("inbox key loader", () => {
  it("coalesces reads made together into one batch, each key once", async () => {
    const s = store([
      { user: "a", seq: 0 },
      { user: "b", seq: 3 },
    ]);
    const loader = new KeyLoader(s.client, "inbox");
    const out = await Promise.all([
      loader.load("a", 0),
      loader.load("a", 0),
      loader.load("b", 3),
      loader.load("c", 1),
    ]);
    expect(s.requests).toHaveLength(1);
    expect(s.requests[0]).toHaveLength(3);
    expect(out.map((i) => i?.acked ?? i?.seq)).toEqual([7, 7, 3, undefined]);
  });

  it("sends a full batch at once and splits past the key limit", async () => {
    const s = store([]);
    const loader = new KeyLoader(s.client, "inbox", { maxKeys: 3, waitMs: 50 });
    const reads = Array.from({ length: 7 }, (_, i) => loader.load(`u${i}`, 1));
    await Promise.all(reads);
    expect(s.requests.map((r) => r.length)).toEqual([3, 3, 1]);
  });

  it("asks again for keys the store left unprocessed", async () => {
    const s = store(
      [
        { user: "a", seq: 1 },
        { user: "b", seq: 1 },
      ],
      1,
    );
    const loader = new KeyLoader(s.client, "inbox", { retryMs: 1 });
    const out = await Promise.all([loader.load("a", 1), loader.load("b", 1)]);
    expect(out.every((i) => i?.seq === 1)).toBe(true);
    expect(s.requests.map((r) => r.length)).toEqual([2, 1]);
  });

  it("holds part-filled batches back while enough are in flight", async () => {
    const s = store([]);
    const loader = new KeyLoader(s.client, "inbox", { maxInFlight: 1, waitMs: 1 });
    const first = loader.load("a", 1);
    await new Promise((r) => setTimeout(r, 0));
    const later = Array.from({ length: 5 }, (_, i) => loader.load(`b${i}`, 1));
    await Promise.all([first, ...later]);
    expect(s.requests.length).toBeLessThanOrEqual(3);
  });
});
