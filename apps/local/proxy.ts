// A loopback TCP endpoint that forwards to a port it can be pointed elsewhere:
// local mode's stand-in for a DNS name such as ElastiCache's primary endpoint,
// which moves to the new primary on failover. Connections already open stay
// with the server they were opened to, as they do in AWS until it drops them.
import { createServer, connect, type Server, type Socket } from "node:net";

export class EndpointProxy {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private target: number,
  ) {}

  /** Listens on `port` (127.0.0.1) and forwards to `target`. */
  static async start(port: number, target: number): Promise<EndpointProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const proxy = new EndpointProxy(server, port, target);
    server.on("connection", (client) => proxy.forward(client));
    return proxy;
  }

  get targetPort(): number {
    return this.target;
  }

  /** New connections go to `target` from now on. */
  retarget(target: number): void {
    this.target = target;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private forward(client: Socket): void {
    const upstream = connect({ host: "127.0.0.1", port: this.target });
    this.sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
    client.pipe(upstream).pipe(client);
  }
}
