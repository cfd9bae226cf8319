// The internal calls between components, authenticated with a service token:
// a WSS handing a socket's send to its region's chat server, a chat server
// handing a message to the chat server serving the recipient's region, group
// copies to store in another region, and membership changes to announce there.
import { signServiceToken } from "./auth.ts";
import { ChatError, ERRORS, type ErrorCode } from "./errors.ts";
import type { SendRequest } from "./message.ts";

export type InternalSend = SendRequest & {
  readonly from: string;
  readonly sentAt: number;
  /** "wss": may still be routed to another region; "peer": already routed here. */
  readonly origin: "wss" | "peer";
};

/**
 * POSTs a send to `{baseUrl}/internal/v1/messages`. Unreachable and 5xx become
 * UNAVAILABLE (retry with the same clientMsgId), 4xx the callee's error.
 */
export async function postInternalSend(
  baseUrl: string,
  /** How errors name the callee to the client (never its address). */
  callee: string,
  key: Uint8Array,
  caller: string,
  send: InternalSend,
  timeoutMs: number,
): Promise<{ id: string; duplicate: boolean }> {
  const body = await postInternal(
    `${baseUrl}/internal/v1/messages`,
    callee,
    key,
    caller,
    send,
    timeoutMs,
  );
  if (typeof body.id !== "string") {
    throw new ChatError("UNAVAILABLE", `${callee} answered without a message id`);
  }
  return { id: body.id, duplicate: body.duplicate === true };
}

/**
 * POSTs `payload` as JSON to an internal endpoint and returns the answer of a
 * 2xx. Unreachable and 5xx become UNAVAILABLE (retry with the same
 * clientMsgId), 4xx an error with the callee's code and message.
 */
export async function postInternal(
  url: string,
  callee: string,
  key: Uint8Array,
  caller: string,
  payload: unknown,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await signServiceToken(key, caller)}`,
      },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const timedOut = (err as Error).name === "TimeoutError";
    const message = timedOut
      ? `${callee} did not answer within ${timeoutMs / 1000} s; retry with the same clientMsgId`
      : `${callee} is unreachable; retry with the same clientMsgId`;
    throw new ChatError("UNAVAILABLE", message, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as Record<string, unknown> & {
    error?: { code?: string; message?: string };
  };
  if (res.status >= 200 && res.status < 300) return body;

  const message = body.error?.message ?? `${callee} answered ${res.status}`;
  if (res.status >= 500) throw new ChatError("UNAVAILABLE", message);
  const code = body.error?.code;
  throw new ChatError(
    code === "FORBIDDEN" || code === "NOT_FOUND" || code === "BAD_ID"
      ? code
      : "BAD_REQUEST",
    message,
  );
}
