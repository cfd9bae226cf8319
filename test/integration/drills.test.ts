// Every local drill scenario in both fan-out modes, short: each starts its own two-region system,
// injects its fault under synthetic traffic, and must report nothing lost,
// duplicated or out of order, with every affected client receiving again.
import { describe, expect, it } from "vitest";

import { LOCAL_SCENARIOS, runLocalDrill } from "../../apps/ops/drills/local.ts";
import { FANOUT_MODES } from "../../regions/schema.ts";

describe.each(FANOUT_MODES)("local drills with %s fan-out", (fanout) => {
  for (const scenario of LOCAL_SCENARIOS) {
    it(
      `${scenario} loses, duplicates and reorders nothing`,
      { timeout: 180_000 },
      async () => {
        const users = scenario === "region-outage" ? 10 : 6;
        const report = await runLocalDrill(scenario, {
          users,
          rate: 30,
          durationMs: 3000,
          fanout,
        });
        // On failure, the drill's steps say what happened and when.
        const steps = report.steps.map((s) => `+${s.atMs} ms ${s.what}`).join("\n");
        expect(report.failures, steps).toEqual([]);
        expect(report).toMatchObject({
          scenario,
          fanout,
          passed: true,
          lost: 0,
          duplicated: 0,
          outOfOrder: 0,
        });
        expect(report.sent).toBeGreaterThan(50);
        expect(report.delivered).toBe(report.sent);
        expect(report.affectedClients).toBeGreaterThan(0);
        expect(report.timeToDetectMs).not.toBeNull();
        expect(report.recovery!.max).toBeLessThan(30_000);
        if (scenario === "region-outage") {
          // The region's users receive again through another region within 10 s,
          // and are back home after the region is restored.
          expect(report.recovery!.p99).toBeLessThan(10_000);
          expect(report.steps.map((s) => s.what)).toContainEqual(
            expect.stringMatching(
              /^every receiver back home \d+ ms after the restore began$/,
            ),
          );
        }
      },
    );
  }
});
