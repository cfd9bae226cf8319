// Redis connections as every app opens them.
import { Redis, type RedisOptions } from "ioredis";

export interface RedisTarget {
  /** `redis://host:port` or `rediss://host:port` (TLS). */
  readonly url: string;
  readonly password?: string;
}

/** Opens a connection that reconnects forever with a capped backoff. */
export function openRedis(target: RedisTarget, extra: RedisOptions = {}): Redis {
  return new Redis(target.url, {
    password: target.password,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 5), 1000),
    reconnectOnError: (err) => err.message.startsWith("READONLY"),
    ...extra,
  });
}
