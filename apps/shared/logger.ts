// The root logger of an app. Library modules take a logger from their caller.
import { pino, type Logger } from "pino";

export type { Logger };

/** Creates the root logger of an app; level from CHAT_LOG_LEVEL (default info). */
export function createLogger(app: string, fields: Record<string, string>): Logger {
  return pino({
    level: process.env.CHAT_LOG_LEVEL ?? "info",
    base: { app, ...fields },
    redact: {
      paths: ["token", "password", "secret", "body", "*.body"],
      censor: "[redacted]",
    },
  });
}

/** A logger that discards everything, for tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
