// The secrets of local mode: made once, kept in a file only its owner can
// read, so tokens printed by `chatctl token` stay valid across restarts.
// CHAT_JWT_SECRET, CHAT_INTERNAL_SECRET and CHAT_REDIS_PASSWORD override them.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

export interface LocalSecrets {
  readonly jwtSecret: string;
  readonly internalSecret: string;
  readonly redisPassword: string;
  /** Password of the `chat` digest identity that owns the ZooKeeper presence tree. */
  readonly zkPassword: string;
}

export function loadOrCreateSecrets(file: string): LocalSecrets {
  let stored: Partial<LocalSecrets> = {};
  if (existsSync(file))
    stored = JSON.parse(readFileSync(file, "utf8")) as Partial<LocalSecrets>;

  const made: LocalSecrets = {
    jwtSecret: stored.jwtSecret ?? randomBytes(32).toString("base64url"),
    internalSecret: stored.internalSecret ?? randomBytes(32).toString("base64url"),
    redisPassword: stored.redisPassword ?? randomBytes(24).toString("base64url"),
    zkPassword: stored.zkPassword ?? randomBytes(24).toString("base64url"),
  };
  if (JSON.stringify(made) !== JSON.stringify(stored)) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(made, null, 2) + "\n", { mode: 0o600 });
  }
  return {
    jwtSecret: process.env.CHAT_JWT_SECRET || made.jwtSecret,
    internalSecret: process.env.CHAT_INTERNAL_SECRET || made.internalSecret,
    redisPassword: process.env.CHAT_REDIS_PASSWORD || made.redisPassword,
    zkPassword: made.zkPassword,
  };
}
