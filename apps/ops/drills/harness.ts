// The moving parts every local drill shares: a local system of its own,
// receivers in the drilled region that can fail over to other regions,
// senders in every region that keep traffic flowing, and the measurements.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { DeliveryChecker, type CheckReport } from "../../checker/checker.ts";
import {
  runSenders,
  sendBody,
  type SenderPlan,
  type SendersResult,
  type Target,
} from "../../checker/senders.ts";
import { ChatClient, type MsgFrame } from "../../client/client.ts";
import { LocalSystem, type LocalOptions } from "../../local/runtime.ts";
import type { LocalSecrets } from "../../local/secrets.ts";
import { secretKey, signUserToken } from "../../shared/auth.ts";
import { dynamoClient, Inbox } from "../../shared/inbox.ts";

/** App settings for drills: faults show in seconds rather than tens of seconds. */
export const DRILL_APP_ENV = Object.freeze({
  CHAT_LOG_LEVEL: "warn",
  CHAT_HEARTBEAT_MS: "2000",
  CHAT_ZK_SESSION_TIMEOUT_MS: "4000",
  CHAT_LEASE_MS: "3000",
  CHAT_LEASE_REFRESH_MS: "250",
  CHAT_RESUME_WAIT_MS: "1000",
  CHAT_ACK_FLUSH_MS: "1000",
  CHAT_RATE_SENDS_PER_S: "1000",
  CHAT_RATE_FRAMES_PER_S: "1000",
});

export interface Receiver {
  readonly user: string;
  readonly client: ChatClient;
  /** Receipt times (epoch ms) with the message's sentAt. */
  readonly receipts: { at: number; sentAt: number }[];
  closes: number[];
}

export class DrillHarness {
  readonly checker = new DeliveryChecker();
  readonly receivers: Receiver[] = [];
  readonly steps: { atMs: number; what: string }[] = [];
  readonly startedAt = Date.now();
  private stopSending = false;
  private sending: Promise<SendersResult> | undefined;
  /** The group of every receiver, sent to by one of the senders. */
  private group: { readonly id: string; readonly owner: string } | undefined;

  private constructor(
    readonly system: LocalSystem,
    readonly region: string,
    private readonly secrets: LocalSecrets,
    /** The folder of a system this harness started (and so stops); undefined when attached. */
    private readonly dir: string | undefined,
    private readonly log: (line: string) => void,
  ) {}

  static async start(
    region: string,
    options: Partial<Omit<LocalOptions, "dir" | "secrets">>,
    log: (line: string) => void,
  ): Promise<DrillHarness> {
    const dir = mkdtempSync(join(tmpdir(), "chat-drill-"));
    const secrets: LocalSecrets = {
      jwtSecret: randomBytes(32).toString("base64url"),
      internalSecret: randomBytes(32).toString("base64url"),
      redisPassword: randomBytes(16).toString("base64url"),
      zkPassword: randomBytes(16).toString("base64url"),
    };
    log("starting a local system for the drill...");
    const system = await LocalSystem.start({
      dir,
      secrets,
      ...options,
      appEnv: { ...DRILL_APP_ENV, ...options.appEnv },
    });
    if (!system.status.regions[region]) {
      await system.stop();
      throw new Error(
        `region ${region} is not running; pick one of ${Object.keys(system.status.regions)}`,
      );
    }
    const h = new DrillHarness(system, region, secrets, dir, log);
    h.step("local system up");
    return h;
  }

  /** Drills a local system that is already running (it is left running after). */
  static attach(
    system: LocalSystem,
    region: string,
    log: (line: string) => void,
  ): DrillHarness {
    if (!system.status.regions[region]) {
      throw new Error(
        `region ${region} is not running; pick one of ${Object.keys(system.status.regions)}`,
      );
    }
    const h = new DrillHarness(system, region, system.options.secrets, undefined, log);
    h.step("attached to the running local system");
    return h;
  }

  /** Records a step with its time since the start. */
  step(what: string): number {
    const atMs = Date.now() - this.startedAt;
    this.steps.push({ atMs, what });
    this.log(`+${atMs} ms  ${what}`);
    return atMs;
  }

  /** WSS URLs: the region's own first, then every other region's. */
  urlsFor(region: string): string[] {
    const regions = this.system.status.regions;
    const others = Object.keys(regions).filter((r) => r !== region);
    return [region, ...others].flatMap((r) => regions[r]!.wss);
  }

  /** Connects `n` receivers homed in the drilled region. */
  async connectReceivers(n: number): Promise<void> {
    const key = secretKey(this.secrets.jwtSecret);
    await Promise.all(
      Array.from({ length: n }, async (_, i) => {
        const user = `drill-r${i}:${this.region}`;
        const client = new ChatClient({
          urls: this.urlsFor(this.region),
          token: () => signUserToken(key, user),
          maxReconnectMs: 1000,
        });
        const r: Receiver = { user, client, receipts: [], closes: [] };
        this.checker.watch(user);
        client.on("msg", (m: MsgFrame) => {
          r.receipts.push({ at: Date.now(), sentAt: m.sentAt });
          this.checker.received(user, m);
        });
        client.on("close", () => r.closes.push(Date.now()));
        await client.connect();
        this.receivers.push(r);
      }),
    );
    this.step(`${n} receivers connected in ${this.region}`);
    await this.createGroup();
  }

  /** A group of all receivers, homed in the drilled region, with one sender in it. */
  private async createGroup(): Promise<void> {
    const id = `drill-g${randomBytes(4).toString("hex")}:${this.region}`;
    const owner = `drill-gs:${this.region}`;
    const token = await signUserToken(secretKey(this.secrets.jwtSecret), owner);
    const res = await fetch(`${this.system.status.regions[this.region]!.cs}/v1/groups`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ id, members: this.receivers.map((r) => r.user) }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 201) {
      throw new Error(
        `creating the drill's group answered ${res.status}: ${await res.text()}`,
      );
    }
    this.group = { id, owner };
    this.step(`group ${id} of the ${this.receivers.length} receivers created`);
  }

  /** Starts senders homed in every region, `rate` messages a second in all. */
  startTraffic(rate: number): void {
    const regions = Object.keys(this.system.status.regions);
    const senders = Array.from(
      { length: 4 },
      (_, i) => `drill-s${i}:${regions[i % regions.length]}`,
    );
    const key = secretKey(this.secrets.jwtSecret);
    const send = async (from: string, to: Target, body: string, clientMsgId: string) => {
      // A sender whose region is down posts to another region's chat server.
      const token = await signUserToken(key, from);
      let last: unknown;
      for (const region of this.regionOrder(from.split(":")[1]!)) {
        try {
          const res = await fetch(
            `${this.system.status.regions[region]!.cs}/v1/messages`,
            {
              method: "POST",
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${token}`,
              },
              body: JSON.stringify(sendBody(to, body, clientMsgId)),
              signal: AbortSignal.timeout(3000),
            },
          );
          const json = (await res.json()) as { id?: string };
          if (res.status === 202 && json.id) return json.id;
          last = new Error(`answered ${res.status}`);
        } catch (err) {
          last = err;
        }
      }
      throw last;
    };
    const to = this.receivers.map((r) => r.user);
    const plans: SenderPlan[] = senders.map((from) => ({
      from,
      to,
      count: Number.MAX_SAFE_INTEGER,
    }));
    if (this.group) {
      senders.push(this.group.owner);
      plans.push({
        from: this.group.owner,
        to: [{ group: this.group.id, members: to }],
        count: Number.MAX_SAFE_INTEGER,
      });
    }
    this.sending = runSenders({
      send,
      checker: this.checker,
      plans,
      intervalMs: Math.max(1, Math.round((senders.length * 1000) / rate)),
      retryForMs: 60_000,
      stop: () => this.stopSending,
    });
    this.step(`traffic: ${rate} messages/s from ${senders.join(", ")}`);
  }

  async stopTraffic(): Promise<SendersResult> {
    this.stopSending = true;
    const result = await this.sending!;
    this.step(
      `traffic stopped: ${result.accepted} sends accepted (a group send counts once; ` +
        `the report counts every member's copy), ${result.retries} retries`,
    );
    return result;
  }

  /** Polls `check` every 50 ms; resolves with the ms since `since`, or null on timeout. */
  async until(check: () => Promise<boolean> | boolean, since: number, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await Promise.resolve(check()).catch(() => false)) return Date.now() - since;
      await new Promise((r) => setTimeout(r, 50));
    }
    return null;
  }

  /**
   * For each receiver, ms from `since` until it received a message sent after
   * `since`; waits up to `timeoutMs` for all of them.
   */
  async receivingAgain(receivers: readonly Receiver[], since: number, timeoutMs: number) {
    const again = (r: Receiver) =>
      r.receipts.find((x) => x.sentAt > since && x.at > since);
    await this.until(() => receivers.every((r) => again(r)), since, timeoutMs);
    return receivers.map((r) => {
      const hit = again(r);
      return hit ? hit.at - since : timeoutMs;
    });
  }

  /**
   * For each receiver that lost messages, a step saying how far its socket got
   * and how far its inbox goes: a socket behind its inbox stopped catching up,
   * one at its inbox's end was never given the messages.
   */
  async explainLosses(report: CheckReport): Promise<void> {
    const inbox = new Inbox(dynamoClient(this.system.status.dynamo, "local"));
    for (const r of this.receivers) {
      const lost = report.recipients[r.user]?.lost ?? 0;
      if (lost === 0) continue;
      const tail = await inbox.tail(r.user).catch(() => NaN);
      this.step(
        `${r.user}: ${lost} lost; its socket is at seq ${r.client.lastSeq}, ` +
          `its inbox at ${tail}, ${r.closes.length} reconnect(s)`,
      );
    }
  }

  async stop(): Promise<void> {
    for (const r of this.receivers) r.client.close();
    if (this.dir === undefined) return;
    await this.system.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Regions to post through: the sender's own first. */
  private regionOrder(home: string): string[] {
    const regions = Object.keys(this.system.status.regions);
    return [home, ...regions.filter((r) => r !== home)];
  }
}
