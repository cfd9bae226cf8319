// The load generator: a process of its own, apart from the system under test,
// driven by the benchmark over IPC (see protocol.ts). It holds the client
// connections, sends at a paced rate and measures what arrives.
import { randomBytes } from "node:crypto";

import { LeanClient, type ClientHooks } from "./clients.ts";
import {
  nowUs,
  parseMarker,
  type Commands,
  type CommandName,
  type ConnectArgs,
  type ConnectResult,
  type Reply,
  type Request,
} from "./protocol.ts";
import { createSender, type Sender } from "./senders.ts";
import { runStep, type LoadContext } from "./steps.ts";
import { StormRun } from "./storm.ts";
import { Tally } from "./tally.ts";

/** Sends outstanding past which the pacer waits (Redis senders). */
const REDIS_MAX_IN_FLIGHT = 200_000;
const ACK_SLICES = 10;
const MAX_CONNECT_FAILURES = 100;

let clients: LeanClient[] = [];
let tally = new Tally(0);
let sender: Sender | undefined;
let maxInFlight = REDIS_MAX_IN_FLIGHT;
let storm: StormRun | undefined;
let ackTimer: NodeJS.Timeout | undefined;
const runTag = randomBytes(4).toString("hex");

const hooks: ClientHooks = {
  ready: (c) => storm?.ready(c),
  message: (c, text, seq) => {
    const arrived = nowUs();
    const m = parseMarker(text);
    if (!m) return;
    tally.received(c.index, m.t, m.n, seq > 0 ? seq : m.n, arrived);
    storm?.message(c);
  },
  dropped: () => undefined,
};

function context(): LoadContext {
  if (!sender) throw new Error("no sender: send the `sender` command first");
  return { clients, tally, sender, maxInFlight };
}

const handlers: { [K in CommandName]: (a: Commands[K][0]) => Promise<Commands[K][1]> } = {
  async connect(a) {
    closeClients();
    clients = a.clients.map(
      (spec, i) =>
        new LeanClient(i, spec, { proto: a.proto, reconnect: a.reconnect }, hooks),
    );
    tally = new Tally(clients.length);
    startAcks(a);
    return openAll(clients, a.concurrency, a.timeoutMs, (c) => c.open());
  },
  async sender(a) {
    await sender?.close();
    sender = await createSender(a, runTag);
    maxInFlight = a.kind === "http" ? a.maxInFlight : REDIS_MAX_IN_FLIGHT;
    return null;
  },
  async step(a) {
    return runStep(context(), a);
  },
  async resync() {
    return openAll(clients, 200, 60_000, (c) => c.reopen(tally.sentTo(c.index)));
  },
  async stormSnapshot(a) {
    storm = new StormRun(context());
    return { affected: storm.snapshot(a.url) };
  },
  async stormBegin(a) {
    if (!storm) throw new Error("stormSnapshot first");
    storm.begin(a.rate);
    return null;
  },
  async stormAfterKill(a) {
    if (!storm) throw new Error("stormSnapshot first");
    return storm.afterKill(a);
  },
  async stormEnd(a) {
    if (!storm) throw new Error("stormSnapshot first");
    const out = await storm.end(a.drainMs);
    storm = undefined;
    return out;
  },
  async closeAll() {
    closeClients();
    return null;
  },
};

async function openAll(
  list: LeanClient[],
  concurrency: number,
  timeoutMs: number,
  open: (c: LeanClient) => Promise<void>,
): Promise<ConnectResult> {
  const t0 = performance.now();
  const deadline = Date.now() + timeoutMs;
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  // Give up early when the server is plainly not answering.
  const worker = async () => {
    while (next < list.length && Date.now() < deadline && failed < MAX_CONNECT_FAILURES) {
      const c = list[next++]!;
      const timeout = new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("connect timed out")), 15_000).unref(),
      );
      try {
        await Promise.race([open(c), timeout]);
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const connected = list.filter((c) => c.ready).length;
  return { connected, failed, ms: Math.round(performance.now() - t0), firstError };
}

function startAcks(a: ConnectArgs): void {
  clearInterval(ackTimer);
  if (a.proto !== "chat" || a.ackEveryMs <= 0) return;
  let slice = 0;
  ackTimer = setInterval(() => {
    for (let i = slice; i < clients.length; i += ACK_SLICES) clients[i]!.ack();
    slice = (slice + 1) % ACK_SLICES;
  }, a.ackEveryMs / ACK_SLICES);
}

function closeClients(): void {
  clearInterval(ackTimer);
  for (const c of clients) c.close();
  clients = [];
}

process.on("message", (raw) => {
  const req = raw as Request;
  const handler = handlers[req.cmd] as (a: unknown) => Promise<unknown>;
  void handler(req.args).then(
    (result) => reply({ id: req.id, ok: true, result }),
    (err: unknown) => reply({ id: req.id, ok: false, error: String(err) }),
  );
});

function reply(r: Reply): void {
  process.send?.(r);
}

// The benchmark gone (finished or crashed): nothing of ours keeps running.
const exit = () => {
  closeClients();
  void sender?.close();
  process.exit(0);
};
process.on("disconnect", exit);
process.on("SIGTERM", exit);
// Socket.IO's adapter publishes without handling the promise; a publish cut
// off by a closing connection must not take the generator down.
process.on("unhandledRejection", () => undefined);
process.send?.({ id: 0, ok: true, result: "ready" });
