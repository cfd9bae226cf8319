// The chat server's HTTP API: the public send and inbox endpoints, the
// internal endpoint for WSSs and other regions' chat servers, and health.
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";

import type { Regions } from "../../regions/schema.ts";
import { bearer, verifyServiceToken, verifyUserToken } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import { readJson, sendError, sendJson } from "../shared/http.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { Logger } from "../shared/logger.ts";
import { parseSendRequest } from "../shared/message.ts";
import type { Delivery } from "./delivery.ts";

export interface ApiDeps {
  readonly regions: Regions;
  readonly delivery: Delivery;
  readonly inbox: Inbox;
  readonly userKey: Uint8Array;
  readonly serviceKey: Uint8Array;
  readonly ready: () => Promise<Record<string, boolean>>;
  readonly log: Logger;
}

/** Largest request body accepted, in bytes. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export function createApi(deps: ApiDeps): Server {
  const server = createServer((req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      if (!(err instanceof ChatError))
        deps.log.error({ err, url: req.url }, "request failed");
      sendError(res, err);
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  return server;
}

async function handle(deps: ApiDeps, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://cs");
  const route = `${req.method} ${url.pathname}`;

  switch (route) {
    case "GET /healthz":
      return sendJson(res, 200, { ok: true });
    case "GET /readyz": {
      const checks = await deps.ready();
      const ok = Object.values(checks).every(Boolean);
      return sendJson(res, ok ? 200 : 503, { ok, checks });
    }
    case "POST /v1/messages": {
      const user = await authUser(deps, req);
      const send = parseSendRequest(await readJson(req, MAX_REQUEST_BYTES), deps.regions);
      const out = await deps.delivery.submit(
        { ...send, from: user, sentAt: Date.now() },
        true,
      );
      return sendJson(res, 202, out);
    }
    case "GET /v1/inbox": {
      const user = await authUser(deps, req);
      const after = intParam(url, "after", 0);
      const limit = Math.min(intParam(url, "limit", 100), 1000);
      const [acked, tail, entries] = await Promise.all([
        deps.inbox.acked(user),
        deps.inbox.tail(user),
        deps.inbox.read(user, after, limit),
      ]);
      return sendJson(res, 200, { user, acked, tail, entries });
    }
    case "POST /internal/v1/messages": {
      const caller = await authService(deps, req);
      const input = await readJson(req, MAX_REQUEST_BYTES);
      const send = parseSendRequest(input, deps.regions);
      const { from, sentAt, origin } = input as Record<string, unknown>;
      if (typeof from !== "string" || typeof sentAt !== "number") {
        throw new ChatError("BAD_REQUEST", "internal send needs from and sentAt");
      }
      const mayForward = origin === "wss";
      deps.log.debug({ caller, to: send.to }, "internal send");
      const out = await deps.delivery.submit({ ...send, from, sentAt }, mayForward);
      return sendJson(res, 202, out);
    }
    default:
      throw new ChatError("NOT_FOUND", `no route ${route}; see docs/protocol.md`);
  }
}

async function authUser(deps: ApiDeps, req: IncomingMessage): Promise<string> {
  const token = bearer(req.headers.authorization);
  if (!token)
    throw new ChatError("UNAUTHENTICATED", "send Authorization: Bearer <token>");
  return (await verifyUserToken(deps.userKey, token, deps.regions)).id;
}

async function authService(deps: ApiDeps, req: IncomingMessage): Promise<string> {
  const token = bearer(req.headers.authorization);
  if (!token)
    throw new ChatError("UNAUTHENTICATED", "internal calls need a service token");
  return verifyServiceToken(deps.serviceKey, token);
}

function intParam(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ChatError("BAD_REQUEST", `${name} must be a non-negative integer`);
  }
  return n;
}
