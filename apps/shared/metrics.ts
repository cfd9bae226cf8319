// Prometheus metrics of the WSS and the chat server. Each app makes its own
// registry; docs/operations.md lists every metric.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

const LATENCY_BUCKETS = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Metrics common to both apps. */
export function baseMetrics(app: string, labels: Record<string, string>) {
  const registry = new Registry();
  registry.setDefaultLabels({ app, ...labels });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    rejected: new Counter({
      name: "chat_rejected_input_total",
      help: "Inputs refused, by reason (the error code or close reason)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    redisReconnects: new Counter({
      name: "chat_redis_reconnects_total",
      help: "Redis connections re-established, by connection role",
      labelNames: ["role"],
      registers: [registry],
    }),
  };
}

export function wssMetrics(labels: Record<string, string>) {
  const base = baseMetrics("wss", labels);
  const r = [base.registry];
  const framesOut = new Counter({
    name: "chat_wss_frames_out_total",
    help: "Frames sent to clients, by type",
    labelNames: ["type"],
    registers: r,
  });
  return {
    ...base,
    zkConnected: new Gauge({
      name: "chat_zookeeper_connected",
      help: "1 while the ZooKeeper session is connected",
      registers: r,
    }),
    zkExpired: new Counter({
      name: "chat_zookeeper_session_expirations_total",
      help: "ZooKeeper sessions lost and replaced",
      registers: r,
    }),
    framesOut,
    /** framesOut for `msg`, bound once: it is counted on the hot path. */
    msgFramesOut: framesOut.labels("msg"),
    connections: new Gauge({
      name: "chat_wss_connections",
      help: "Open WebSocket connections",
      registers: r,
    }),
    framesIn: new Counter({
      name: "chat_wss_frames_in_total",
      help: "Frames received from clients, by type",
      labelNames: ["type"],
      registers: r,
    }),
    delivery: new Histogram({
      name: "chat_delivery_latency_seconds",
      help: "From the send's acceptance (sentAt) to the socket write, live messages only",
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    redelivered: new Counter({
      name: "chat_wss_redelivered_total",
      help: "Messages put on a socket from the inbox (replay, gap fill, catch-up)",
      registers: r,
    }),
    buffered: new Gauge({
      name: "chat_wss_socket_buffered_bytes",
      help: "Bytes written to sockets and not yet taken by the kernel, all sockets",
      registers: r,
    }),
    slowConsumers: new Counter({
      name: "chat_wss_slow_consumer_events_total",
      help: "Sockets paused or closed for not reading, by action",
      labelNames: ["action"],
      registers: r,
    }),
    groupChannels: new Gauge({
      name: "chat_wss_group_channels",
      help: "Group channels subscribed (per-group fan-out)",
      registers: r,
    }),
    closes: new Counter({
      name: "chat_wss_closes_total",
      help: "Connections closed, by close code",
      labelNames: ["code"],
      registers: r,
    }),
  };
}

export function csMetrics(labels: Record<string, string>) {
  const base = baseMetrics("chat-server", labels);
  const r = [base.registry];
  return {
    ...base,
    accepted: new Counter({
      name: "chat_cs_messages_accepted_total",
      help: "Sends accepted, by route (local: stored here; forwarded: to another region)",
      labelNames: ["route"],
      registers: r,
    }),
    duplicates: new Counter({
      name: "chat_cs_duplicate_sends_total",
      help: "Retried sends recognised by (sender, clientMsgId)",
      registers: r,
    }),
    store: new Histogram({
      name: "chat_cs_inbox_append_seconds",
      help: "Time to store a message in the recipient's inbox",
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    publish: new Histogram({
      name: "chat_cs_publish_seconds",
      help: "Time to publish a stored message to the recipient's topic",
      buckets: LATENCY_BUCKETS,
      registers: r,
    }),
    publishBacklog: new Gauge({
      name: "chat_cs_publish_retry_backlog",
      help: "Publishes waiting for a retry",
      registers: r,
    }),
    inboxBacklog: new Gauge({
      name: "chat_inbox_backlog_messages",
      help: "Stored but unacknowledged messages of recipients this chat server served recently",
      registers: r,
    }),
    acksApplied: new Counter({
      name: "chat_cs_acks_applied_total",
      help: "Acknowledged cursors moved in the inbox",
      registers: r,
    }),
    groupCopies: new Counter({
      name: "chat_cs_group_copies_total",
      help: "Group message copies stored here (one per member)",
      registers: r,
    }),
  };
}

export type WssMetrics = ReturnType<typeof wssMetrics>;
export type CsMetrics = ReturnType<typeof csMetrics>;
