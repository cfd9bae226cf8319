// Socket.IO with its Redis adapter, as one would deploy it for this job: a
// room `u:<user>` per user, joined on connect; messages are emitted to the
// room from any node and reach it through Redis. Started by the benchmarks
// with PEER_PORT, PEER_REDIS_URL and PEER_REDIS_PASSWORD.
import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import { Redis } from "ioredis";
import { Server } from "socket.io";

const port = Number(process.env.PEER_PORT);
const pub = new Redis(process.env.PEER_REDIS_URL!, {
  password: process.env.PEER_REDIS_PASSWORD,
});
const sub = pub.duplicate();
pub.on("error", () => undefined);
sub.on("error", () => undefined);

const http = createServer();
const io = new Server(http, { transports: ["websocket"], serveClient: false });
io.adapter(createAdapter(pub, sub));

io.use((socket, next) => {
  const user: unknown = socket.handshake.auth.user;
  if (typeof user !== "string" || user === "")
    return next(new Error("auth.user missing"));
  socket.data.user = user;
  next();
});
io.on("connection", (socket) => {
  void socket.join(`u:${String(socket.data.user)}`);
});

await Promise.all(
  [pub, sub].map((r) => new Promise<void>((ok) => r.once("ready", () => ok()))),
);
// The same accept queue as ours (CHAT_LISTEN_BACKLOG): a storm's reconnects
// are not held up by dropped handshakes in any of the three.
http.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => process.send?.("ready"));
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
