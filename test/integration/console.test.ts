// The local console in a real browser: Debian's Chromium, driven by
// playwright-core, against a two-region local system with real Redis,
// ZooKeeper and app processes. Set CONSOLE_SCREENSHOT=docs/console.png to save
// the page as it looks after the drill.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { chromium, type BrowserContext, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { ConsoleServer } from "../../apps/console/server.ts";
import { TestSystem } from "../helpers/system.ts";

const CHROMIUM = "/usr/bin/chromium";
/** Headless, and no connection anywhere but to the pages it is sent to. */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** What the page saw while alice's socket was down (recorded in the page). */
interface DownWatch {
  readonly events: { at: number; what: string }[];
}

describe("local console", () => {
  let sys: TestSystem;
  let web: ConsoleServer;
  let profile: string;
  let browser: BrowserContext;
  let page: Page;
  const loaded: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    sys = await TestSystem.start();
    web = await ConsoleServer.start({
      system: sys.local,
      drills: { users: 4, rate: 20 },
    });
    profile = mkdtempSync(join(tmpdir(), "chat-console-chromium-"));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1400, height: 1000 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on("request", (r) => loaded.push(r.url()));
    page.on("websocket", (ws) => loaded.push(ws.url()));
    page.on("pageerror", (err) => pageErrors.push(err.message));
    await page.goto(web.url);
  });

  afterAll(async () => {
    await browser?.close();
    await web?.drillSettled();
    await web?.close();
    await sys?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const side = (user: string): Locator => page.locator(`[data-user="${user}"]`);

  it("loads everything from the console server and shows both regions healthy", async () => {
    for (const region of ["usa", "eu"]) {
      const panel = page.locator(`[data-region=${region}]`);
      await panel.and(page.locator("[data-health=ok]")).waitFor();
      expect(await panel.locator("[data-component=wss] .badge.ok").count()).toBe(2);
      for (const part of ["redis", "zookeeper", "cs"]) {
        expect(await panel.locator(`[data-component=${part}] .badge.ok`).count()).toBe(1);
      }
    }

    expect(await page.title()).toBe("chat console (local)");
    expect(await page.getByText("all regions healthy").count()).toBe(1);
    const fanout = sys.status.fanout;
    expect(await page.getByText(`local mode, ${fanout} fan-out`).count()).toBe(1);
    const ownOrigin = (u: string) =>
      u.startsWith(web.url) || u.startsWith("ws://127.0.0.1:") || u.startsWith("data:");
    expect(loaded.filter((u) => !ownOrigin(u))).toEqual([]);
    expect(loaded).toContain(`${web.url}app.js`);
    expect(pageErrors).toEqual([]);
  });

  it("shows a message from alice:usa to bob:eu delivered", async () => {
    const alice = side("alice:usa");
    const bob = side("bob:eu");
    await alice.locator("[data-testid=conn-state][data-state=connected]").waitFor();
    await bob.locator("[data-testid=conn-state][data-state=connected]").waitFor();
    expect(await alice.getByTestId("conn-detail").textContent()).toContain("region usa");
    expect(await bob.getByTestId("conn-detail").textContent()).toContain("region eu");

    await alice.getByTestId("compose").fill("hello bob");
    await alice.getByTestId("compose").press("Enter");

    await alice
      .locator("li.out[data-state=delivered]", { hasText: "hello bob" })
      .waitFor();
    const got = bob.locator("li.in", { hasText: "hello bob" });
    await got.waitFor();
    expect(await got.textContent()).toContain("alice:usa");
  });

  it(
    "shows reconnecting during a wss-crash drill, then receives what was sent meanwhile",
    { timeout: 90_000 },
    async () => {
      const alice = side("alice:usa");
      const bob = side("bob:eu");
      // The drill kills usa-wss-1: the WSS alice's pane connected to first.
      expect(await alice.getByTestId("conn-detail").textContent()).toContain("usa-wss-1");
      await page.evaluate(watchAliceAndSendWhileDown, "while you were away");

      await page.locator("[data-scenario=wss-crash]").click();

      const watch = await waitForWatch(page, "alice connected again");
      const at = (what: string) => watch.events.find((e) => e.what === what)?.at;
      expect(at("alice reconnecting")).toBeDefined();
      // Sent after alice's socket went down and before she was back.
      expect(at("bob sent while alice was down")).toBeGreaterThanOrEqual(
        at("alice reconnecting")!,
      );
      expect(at("bob sent while alice was down")).toBeLessThan(
        at("alice connected again")!,
      );

      await alice.locator("li.in", { hasText: "while you were away" }).waitFor();
      await bob
        .locator("li.out[data-state=delivered]", { hasText: "while you were away" })
        .waitFor();
      const detail = await alice.getByTestId("conn-detail").textContent();
      expect(detail).toContain("usa-wss-2");
      expect(detail).toMatch(/reconnects [1-9]/);

      const drill = page.getByTestId("drill");
      await drill.and(page.locator(":not([data-status=running])")).waitFor({
        timeout: 60_000,
      });
      expect(await drill.getAttribute("data-status")).toBe("passed");
      expect(await drill.textContent()).toContain("lost 0");
      await page
        .locator("[data-region=usa][data-health=ok]")
        .waitFor({ timeout: 20_000 });

      if (process.env.CONSOLE_SCREENSHOT) {
        await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT, fullPage: true });
      }
    },
  );
});

/**
 * Runs in the page: records alice's connection states and, the moment her
 * socket goes down, sends `body` from bob's pane the way a user would.
 */
function watchAliceAndSendWhileDown(body: string): void {
  const watch: DownWatch = { events: [] };
  (window as unknown as { downWatch: DownWatch }).downWatch = watch;
  const record = (what: string) => {
    if (!watch.events.some((e) => e.what === what))
      watch.events.push({ at: Date.now(), what });
  };
  const q = (sel: string) => document.querySelector<HTMLElement>(sel);
  const aliceState = () =>
    q('[data-user="alice:usa"] [data-testid=conn-state]')?.dataset.state;

  new MutationObserver(() => {
    const state = aliceState();
    const down = watch.events.some((e) => e.what === "alice reconnecting");
    if (state === "reconnecting" && !down) {
      record("alice reconnecting");
      const input = q('[data-user="bob:eu"] [data-testid=compose]') as HTMLInputElement;
      input.value = body;
      input.dispatchEvent(new Event("input", { bubbles: true }));
      // Submit once the pane has rendered the typed text.
      setTimeout(() => {
        record("bob sent while alice was down");
        input.form!.requestSubmit();
      }, 0);
    }
    if (state === "connected" && down) record("alice connected again");
  }).observe(document.body, { subtree: true, childList: true, attributes: true });
}

async function waitForWatch(page: Page, what: string): Promise<DownWatch> {
  await page.waitForFunction(
    (w) =>
      (window as unknown as { downWatch: DownWatch }).downWatch.events.some(
        (e) => e.what === w,
      ),
    what,
    { timeout: 30_000 },
  );
  return page.evaluate(() => (window as unknown as { downWatch: DownWatch }).downWatch);
}
