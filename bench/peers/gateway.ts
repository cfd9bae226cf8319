// The bare gateway, the practical limit of the hardware: one ioredis
// subscriber, one topic `u:<user>` per connected user, each message written
// as is to that user's `ws` sockets. Nothing else: no auth, no presence, no
// inbox, no ordering, no heartbeats. Started by the benchmarks with
// PEER_PORT, PEER_REDIS_URL and PEER_REDIS_PASSWORD.
import { createServer } from "node:http";

import { Redis } from "ioredis";
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.env.PEER_PORT);
const sub = new Redis(process.env.PEER_REDIS_URL!, {
  password: process.env.PEER_REDIS_PASSWORD,
});
sub.on("error", () => undefined);

const topics = new Map<
  string,
  { sockets: Set<WebSocket>; subscribed: Promise<unknown> }
>();

sub.on("message", (channel: string, message: string) => {
  const topic = topics.get(channel);
  if (topic) for (const ws of topic.sockets) ws.send(message);
});

const http = createServer((req, res) => {
  res.writeHead(req.url === "/healthz" ? 200 : 404).end();
});
const wss = new WebSocketServer({ server: http });

wss.on("connection", (ws, req) => {
  const user = new URL(req.url ?? "/", "http://gateway").searchParams.get("user");
  if (!user) return ws.close(4000, "connect with ?user=<id>");

  const channel = `u:${user}`;
  let topic = topics.get(channel);
  if (!topic) {
    topic = { sockets: new Set(), subscribed: sub.subscribe(channel) };
    topics.set(channel, topic);
  }
  const t = topic;
  t.sockets.add(ws);
  void t.subscribed.then(() => ws.send('{"type":"hello"}'));
  ws.on("error", () => undefined);
  ws.on("close", () => {
    t.sockets.delete(ws);
    if (t.sockets.size > 0 || topics.get(channel) !== t) return;
    topics.delete(channel);
    void sub.unsubscribe(channel).catch(() => undefined);
  });
});

await new Promise<void>((r) => sub.once("ready", () => r()));
// The same accept queue as ours (CHAT_LISTEN_BACKLOG): a storm's reconnects
// are not held up by dropped handshakes in any of the three.
http.listen({ port, host: "127.0.0.1", backlog: 4096 }, () => process.send?.("ready"));
process.on("disconnect", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
