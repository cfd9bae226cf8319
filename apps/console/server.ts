// The local console: one page that shows every region of the running local
// system, runs its failure drills and chats between two users, served with a
// small JSON and server-sent-events API on 127.0.0.1.
//
// LOCAL MODE ONLY. The API signs user tokens with the local system's secret for
// any user id it is given and starts drills that kill processes: it must never
// face a network. It binds loopback alone, answers only requests addressed to
// 127.0.0.1 or localhost (against DNS rebinding), and takes POSTs only as JSON
// from its own origin (against cross-site requests).
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

import { loadRegions, type Regions } from "../../regions/schema.ts";
import type { LocalSystem } from "../local/runtime.ts";
import { secretKey, signUserToken } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import { readJson, sendError, sendJson } from "../shared/http.ts";
import { parseId } from "../shared/ids.ts";
import { withDefaults } from "../shared/options.ts";
import type { ConsoleState, SystemView, TokenAnswer } from "./api.ts";
import { loadAssets, type Asset } from "./assets.ts";
import { DrillRequestError, DrillRunner, type DrillSettings } from "./drills.ts";
import { SystemProbe } from "./probe.ts";

export interface ConsoleOptions {
  readonly system: LocalSystem;
  /** Port on 127.0.0.1; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Time between two probes of the system while a page watches, ms. @default 1000 */
  readonly pollMs?: number;
  /** Size of the drills started from the page. */
  readonly drills?: DrillSettings;
}

const DEFAULTS = Object.freeze({ port: 0, pollMs: 1000, drills: {} });
const HOST = "127.0.0.1";
const MAX_BODY_BYTES = 4096;
const TOKEN_TTL_S = 3600;
const SECURITY_HEADERS = Object.freeze({
  "content-security-policy":
    "default-src 'self'; connect-src 'self' ws://127.0.0.1:*; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
});

export class ConsoleServer {
  private readonly streams = new Set<ServerResponse>();
  private readonly probe: SystemProbe;
  private readonly drills: DrillRunner;
  private readonly regions: Regions;
  private lastView: SystemView | null = null;
  private probing: Promise<SystemView> | undefined;
  private polling: Promise<void> | undefined;
  private closed = false;

  private constructor(
    private readonly o: Required<ConsoleOptions>,
    private readonly assets: ReadonlyMap<string, Asset>,
    private readonly server: Server,
  ) {
    this.probe = new SystemProbe(o.system);
    this.drills = new DrillRunner(o.system, o.drills);
    this.regions = loadRegions();
    this.drills.on("change", (drill) => this.broadcast("drill", drill));
  }

  /** Bundles the page, then listens on 127.0.0.1. */
  static async start(options: ConsoleOptions): Promise<ConsoleServer> {
    const o = withDefaults(DEFAULTS, options);
    const assets = await loadAssets();
    const server = createServer();
    const app = new ConsoleServer(o, assets, server);
    server.on("request", (req, res) => void app.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) =>
        reject(new Error(`console: cannot listen on ${HOST}:${o.port}`, { cause: err })),
      );
      server.listen(o.port, HOST, resolve);
    });
    return app;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The page's address. */
  get url(): string {
    return `http://${HOST}:${this.port}/`;
  }

  /** Stops serving and ends every event stream; a drill in progress runs to its end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const res of this.streams) res.end();
    this.streams.clear();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
    await this.polling;
  }

  /** Resolves once the drill in progress, if any, has finished. */
  drillSettled(): Promise<void> {
    return this.drills.settled();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
      this.checkAddressed(req);
      const path = new URL(req.url ?? "/", "http://console").pathname;
      const key = `${req.method} ${path}`;
      if (req.method === "POST") this.checkSameOrigin(req);

      if (key === "GET /api/state") return sendJson(res, 200, await this.state());
      if (key === "GET /api/events") return this.subscribe(res);
      if (key === "POST /api/drills") return await this.startDrill(req, res);
      if (key === "POST /api/token") return await this.token(req, res);

      const asset = req.method === "GET" ? this.assets.get(path) : undefined;
      if (!asset) throw new ChatError("NOT_FOUND", `no route ${req.method} ${path}`);
      res.writeHead(200, {
        "content-type": asset.type,
        "content-length": asset.body.length,
      });
      res.end(asset.body);
    } catch (err) {
      if (err instanceof DrillRequestError) {
        const code = err.status === 409 ? "CONFLICT" : "BAD_REQUEST";
        return sendJson(res, err.status, { error: { code, message: err.message } });
      }
      sendError(res, err);
    }
  }

  private async state(): Promise<ConsoleState> {
    return {
      regions: Object.keys(this.o.system.status.regions),
      fanout: this.o.system.status.fanout,
      scenarios: this.drills.scenarios(),
      // While a page watches, the poller keeps the view fresh; else look now.
      system: this.polling && this.lastView ? this.lastView : await this.look(),
      drill: this.drills.drill,
    };
  }

  /** Server-sent events: `state` once, then `system` every poll and `drill` on change. */
  private subscribe(res: ServerResponse): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      connection: "keep-alive",
    });
    res.write("retry: 1000\n\n");
    this.streams.add(res);
    res.on("close", () => this.streams.delete(res));
    this.polling ??= this.pollWhileWatched().finally(() => (this.polling = undefined));
    void this.state().then((s) => write(res, "state", s));
  }

  /** One probe at a time: callers during a probe share its result. */
  private look(): Promise<SystemView> {
    this.probing ??= this.probe
      .poll()
      .then((view) => (this.lastView = view))
      .finally(() => (this.probing = undefined));
    return this.probing;
  }

  private async pollWhileWatched(): Promise<void> {
    while (this.streams.size > 0 && !this.closed) {
      const started = Date.now();
      this.broadcast("system", await this.look());
      const wait = this.o.pollMs - (Date.now() - started);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }

  private broadcast(event: string, data: unknown): void {
    for (const res of this.streams) write(res, event, data);
  }

  private async startDrill(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req, MAX_BODY_BYTES)) as Record<string, unknown> | null;
    const scenario = body?.scenario;
    const region = body?.region;
    if (typeof scenario !== "string" || typeof region !== "string") {
      throw new ChatError("BAD_REQUEST", 'send {"scenario":"wss-crash","region":"usa"}');
    }
    sendJson(res, 202, this.drills.start(scenario, region));
  }

  /** A token for any valid user id, signed with the local secret: local mode only. */
  private async token(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req, MAX_BODY_BYTES)) as Record<string, unknown> | null;
    const { id, region } = parseId(body?.user, this.regions, "user");
    const regions = this.o.system.status.regions;
    if (!regions[region]) {
      throw new ChatError(
        "BAD_ID",
        `region ${region} is not running here; use one of ${Object.keys(regions).join(", ")}`,
      );
    }
    const others = Object.keys(regions).filter((r) => r !== region);
    const answer: TokenAnswer = {
      user: id,
      region,
      token: await signUserToken(
        secretKey(this.o.system.options.secrets.jwtSecret),
        id,
        TOKEN_TTL_S,
      ),
      wss: [region, ...others].flatMap((r) => regions[r]!.wss),
    };
    sendJson(res, 200, answer);
  }

  /** Refuses requests whose Host is not this server's loopback address. */
  private checkAddressed(req: IncomingMessage): void {
    const allowed = [`${HOST}:${this.port}`, `localhost:${this.port}`];
    if (!allowed.includes(req.headers.host ?? "")) {
      throw new ChatError("FORBIDDEN", `open the console at ${this.url}`);
    }
  }

  /** Refuses POSTs from another origin (a browser always sends Origin on a POST). */
  private checkSameOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== `http://${req.headers.host}`) {
      throw new ChatError("FORBIDDEN", "the console API only answers its own page");
    }
  }
}

function write(res: ServerResponse, event: string, data: unknown): void {
  if (res.writableEnded || res.destroyed) return;
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
