// Small helpers for the JSON-over-HTTP APIs of the apps.
import type { IncomingMessage, ServerResponse } from "node:http";

import { ChatError } from "./errors.ts";

/** Reads a JSON body of at most `limit` bytes; errors say what to change. */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new ChatError(
      "BAD_REQUEST",
      "send the body as JSON with Content-Type: application/json",
    );
  }
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) {
    throw new ChatError("PAYLOAD_TOO_LARGE", `request body is over ${limit} bytes`);
  }

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      throw new ChatError("PAYLOAD_TOO_LARGE", `request body is over ${limit} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new ChatError("BAD_REQUEST", "request body is not valid JSON");
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

/** Answers with the error's code and message; anything else is a 500 without details. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const e = err instanceof ChatError ? err : new ChatError("INTERNAL", "internal error");
  if (e.code === "PAYLOAD_TOO_LARGE") res.setHeader("connection", "close");
  sendJson(res, e.status, e.toJSON());
}

/**
 * An integer query parameter given at most once, in decimal digits, within
 * `min`..`max`; undefined when absent. Errors say what to send instead.
 */
export function queryInt(
  params: URLSearchParams,
  name: string,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  const all = params.getAll(name);
  if (all.length === 0) return undefined;
  if (all.length > 1) throw new ChatError("BAD_REQUEST", `give ${name} once`);

  const n = /^\d{1,16}$/.test(all[0]!) ? Number(all[0]) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range =
      max === Number.MAX_SAFE_INTEGER
        ? min === 0
          ? "a non-negative integer"
          : `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`;
    throw new ChatError("BAD_REQUEST", `${name} must be ${range}`);
  }
  return n;
}
