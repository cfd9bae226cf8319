// Small helpers for the JSON-over-HTTP APIs of the apps.
import {
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Duplex } from "node:stream";

import { ChatError, type ErrorCode } from "./errors.ts";

/** Refuses bytes that are not UTF-8 instead of replacing them. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

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
  let text: string;
  try {
    text = UTF8.decode(Buffer.concat(chunks));
  } catch {
    throw new ChatError(
      "BAD_REQUEST",
      "request body is not valid UTF-8; send UTF-8 JSON",
    );
  }
  try {
    return JSON.parse(text);
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

/** Longest request head Node's parser takes (its `maxHeaderSize`), in bytes. */
const MAX_HEADER_BYTES = 16 * 1024;

/**
 * Answers requests Node's HTTP parser refuses before any handler sees them
 * (a head over 16 KiB, malformed HTTP) with the JSON error every other
 * refusal gets, not a bare status line, and counts them with `rejected`.
 */
export function answerParserErrors(
  server: Server,
  rejected: (code: ErrorCode) => void,
): void {
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    const e =
      err.code === "HPE_HEADER_OVERFLOW"
        ? new ChatError(
            "HEADERS_TOO_LARGE",
            `request line and headers are over ${MAX_HEADER_BYTES / 1024} KiB; ` +
              "send a shorter URL or token, and fewer or shorter headers",
          )
        : new ChatError("BAD_REQUEST", "malformed HTTP request");
    rejected(e.code);
    refuseRaw(socket, e);
  });
}

/**
 * Answers on a bare socket (before or instead of an HTTP response object:
 * a refused upgrade, a request the parser refused) and closes it.
 */
export function refuseRaw(socket: Duplex, e: ChatError): void {
  const body = JSON.stringify(e.toJSON());
  socket.end(
    `HTTP/1.1 ${e.status} ${STATUS_CODES[e.status] ?? "Error"}\r\n` +
      "Content-Type: application/json\r\n" +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
