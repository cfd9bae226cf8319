// Region leases against a real DynamoDB-compatible server: a failed region's
// lease is taken over with a higher epoch after it expires, handed back once
// the home region is ready again, and never held by two regions at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { LeaseKeeper } from "../../apps/chat-server/lease-keeper.ts";
import { dynamoClient, Inbox } from "../../apps/shared/inbox.ts";
import { RegionLeases } from "../../apps/shared/leases.ts";
import { silentLogger } from "../../apps/shared/logger.ts";
import { startTestDynamo, type TestDynamo } from "../helpers/dynamo.ts";

let dynamo: TestDynamo;
let endpoint: string;

beforeAll(async () => {
  dynamo = await startTestDynamo();
  endpoint = dynamo.endpoint;
});
afterAll(async () => {
  await dynamo?.stop();
});

const ids = ["eu", "usa"];
const leases = () =>
  new RegionLeases(dynamoClient(endpoint, "local"), ids, { leaseMs: 400 });

describe("region leases", () => {
  it("fail over to the successor after expiry and back once home is ready", async () => {
    const usaLeases = leases();
    const euLeases = leases();
    let usaUp = true;
    const usa = new LeaseKeeper(usaLeases, "usa", ids, async () => true, silentLogger());
    const eu = new LeaseKeeper(euLeases, "eu", ids, async () => usaUp, silentLogger(), {
      healthyChecks: 2,
    });
    const observer = leases();

    // Both claim their own regions.
    await usa.tick();
    await eu.tick();
    await observer.refresh();
    expect(observer.owner("usa")).toBe("usa");
    const firstEpoch = observer.get("usa")!.epoch;

    // usa stops renewing: eu takes over once the lease is past expiry and grace.
    usaUp = false;
    const overlaps: number[] = [];
    const sample = () => {
      if (usaLeases.holds("usa", "usa") && euLeases.holds("usa", "eu"))
        overlaps.push(Date.now());
    };
    const deadline = Date.now() + 5000;
    while (observer.owner("usa") !== "eu" && Date.now() < deadline) {
      await eu.tick();
      sample();
      await observer.refresh();
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(observer.owner("usa")).toBe("eu");
    expect(observer.get("usa")!.epoch).toBe(firstEpoch + 1);

    // usa is back: eu hands the lease back after two ready answers; usa renews it.
    usaUp = true;
    for (let i = 0; i < 4 && observer.owner("usa") !== "usa"; i++) {
      await eu.tick();
      await observer.refresh();
    }
    await usa.tick();
    sample();
    await observer.refresh();
    expect(observer.owner("usa")).toBe("usa");
    expect(observer.get("usa")!.epoch).toBe(firstEpoch + 2);
    expect(usaLeases.holds("usa", "usa")).toBe(true);
    expect(overlaps).toEqual([]);
  });

  it("lets only one of two racing regions take an expired lease", async () => {
    const a = leases();
    const b = leases();
    await a.refresh();
    await a.renew("eu", "eu");
    await new Promise((r) => setTimeout(r, 450));
    await Promise.all([a.refresh(), b.refresh()]);
    const wins = await Promise.all([a.takeOver("eu", "usa"), b.takeOver("eu", "apac")]);
    expect(wins.filter(Boolean)).toHaveLength(1);
  });
});
