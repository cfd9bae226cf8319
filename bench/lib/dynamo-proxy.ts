// A loopback HTTP proxy in front of the local inbox store (dynalite) that
// counts requests by DynamoDB operation, so that a benchmark can say how much
// inbox load an event caused. The apps are pointed at it through
// CHAT_DYNAMO_ENDPOINT. The store's port is only known once local mode has
// started it, so the proxy finds it on the first request: the one child of
// this process that runs dynalite.
import { Agent, createServer, request, type Server } from "node:http";

import { freePort } from "../../apps/local/services.ts";
import { childPids, cmdline } from "./procs.ts";

export class DynamoProxy {
  /** Requests forwarded, by operation (`Query`, `PutItem`, ...). */
  readonly counts = new Map<string, number>();
  private target: number | undefined;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 256 });

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<DynamoProxy> {
    const port = await freePort();
    const server = createServer();
    const proxy = new DynamoProxy(server, `http://127.0.0.1:${port}`);
    server.on("request", (req, res) => {
      const target = proxy.findTarget();
      if (target === undefined) {
        res.writeHead(503).end();
        return;
      }
      const op = String(req.headers["x-amz-target"] ?? "other")
        .split(".")
        .pop()!;
      proxy.counts.set(op, (proxy.counts.get(op) ?? 0) + 1);
      const up = request(
        {
          host: "127.0.0.1",
          port: target,
          method: req.method,
          path: req.url,
          headers: req.headers,
          agent: proxy.agent,
        },
        (upRes) => {
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on("error", () => res.destroy());
      req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", () => r()));
    return proxy;
  }

  /** A copy of the counters, with their total. */
  snapshot(): Record<string, number> {
    const out: Record<string, number> = Object.fromEntries(this.counts);
    out.total = [...this.counts.values()].reduce((a, b) => a + b, 0);
    return out;
  }

  async close(): Promise<void> {
    this.agent.destroy();
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private findTarget(): number | undefined {
    if (this.target !== undefined) return this.target;
    for (const pid of childPids()) {
      const m = /dynalite\S*cli\.js .*--port (\d+)/.exec(cmdline(pid));
      if (m) this.target = Number(m[1]);
    }
    return this.target;
  }
}

/** The difference of two snapshots, operation by operation. */
export function countsDelta(
  after: Record<string, number>,
  before: Record<string, number>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}
