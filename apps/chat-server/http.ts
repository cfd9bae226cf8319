// The chat server's HTTP API: the public send and inbox endpoints, the
// internal endpoint for WSSs and other regions' chat servers, health and
// metrics.
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";

import type { Regions } from "../../regions/schema.ts";
import { requestToken, verifyServiceToken, type TokenVerifier } from "../shared/auth.ts";
import { ChatError } from "../shared/errors.ts";
import {
  answerParserErrors,
  queryInt,
  readJson,
  sendError,
  sendJson,
} from "../shared/http.ts";
import type { Inbox } from "../shared/inbox.ts";
import type { Logger } from "../shared/logger.ts";
import { parseSendRequest } from "../shared/message.ts";
import type { CsMetrics } from "../shared/metrics.ts";
import type { RateLimiter } from "../shared/rate-limit.ts";
import type { Delivery } from "./delivery.ts";
import {
  handleChange,
  handleCopies,
  handleGroupRoute,
  type GroupApiDeps,
} from "./group-api.ts";

export interface ApiDeps {
  readonly regions: Regions;
  readonly delivery: Delivery;
  readonly groupApi: GroupApiDeps;
  readonly inbox: Inbox;
  readonly verifier: TokenVerifier;
  readonly serviceKey: Uint8Array;
  /** Sends per user through the public API. */
  readonly userSends: RateLimiter;
  readonly metrics: CsMetrics;
  readonly ready: () => Promise<Record<string, boolean>>;
  readonly log: Logger;
}

/** Largest request body accepted, in bytes. */
export const MAX_REQUEST_BYTES = 64 * 1024;

export function createApi(deps: ApiDeps): Server {
  const server = createServer((req, res) => {
    handle(deps, req, res).catch((err: unknown) => {
      if (err instanceof ChatError) {
        deps.metrics.rejected.inc({ reason: err.code });
      } else {
        deps.log.error({ err, path: req.url?.split("?")[0] }, "request failed");
      }
      sendError(res, err);
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  answerParserErrors(server, (reason) => deps.metrics.rejected.inc({ reason }));
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
    case "GET /metrics": {
      const text = await deps.metrics.registry.metrics();
      res.writeHead(200, { "content-type": deps.metrics.registry.contentType });
      res.end(text);
      return;
    }
    case "POST /v1/messages": {
      const user = await authUser(deps, req);
      const wait = deps.userSends.take(user);
      if (wait > 0) {
        res.setHeader("retry-after", String(wait));
        throw new ChatError("RATE_LIMITED", `too many sends; retry in ${wait} s`);
      }
      const send = parseSendRequest(await readJson(req, MAX_REQUEST_BYTES), deps.regions);
      const submission = { ...send, from: user, sentAt: Date.now() };
      return sendJson(res, 202, await deps.delivery.submit(submission, true));
    }
    case "GET /v1/inbox": {
      const user = await authUser(deps, req);
      const after = queryInt(url.searchParams, "after") ?? 0;
      const limit = queryInt(url.searchParams, "limit", 1, 1000) ?? 100;
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
      deps.log.debug({ caller, to: send.to, group: send.group }, "internal send");
      const submission = { ...send, from, sentAt };
      return sendJson(res, 202, await deps.delivery.submit(submission, origin === "wss"));
    }
    case "POST /internal/v1/group-copies":
      await authService(deps, req);
      return handleCopies(deps.groupApi, req, res);
    case "POST /internal/v1/group-changes":
      await authService(deps, req);
      return handleChange(deps.groupApi, req, res);
    default: {
      const user = () => authUser(deps, req);
      if (await handleGroupRoute(deps.groupApi, req, res, url.pathname, user)) return;
      throw new ChatError("NOT_FOUND", `no route ${route}; see docs/protocol.md`);
    }
  }
}

async function authUser(deps: ApiDeps, req: IncomingMessage): Promise<string> {
  const token = requestToken(req.headers.authorization, undefined);
  return (await deps.verifier.verify(token)).id;
}

async function authService(deps: ApiDeps, req: IncomingMessage): Promise<string> {
  const token = requestToken(
    req.headers.authorization,
    undefined,
    "internal calls need a service token",
  );
  return verifyServiceToken(deps.serviceKey, token);
}
