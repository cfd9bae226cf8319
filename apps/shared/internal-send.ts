// The internal send call between components: a WSS handing a socket's send to
// its region's chat server, or a chat server handing a message to the chat
// server serving the recipient's region. Authenticated with a service token.
import { signServiceToken } from "./auth.ts";
import { ChatError } from "./errors.ts";

export interface InternalSend {
  readonly to: string;
  readonly body: string;
  readonly clientMsgId: string;
  readonly from: string;
  readonly sentAt: number;
  /** "wss": may still be routed to another region; "peer": already routed here. */
  readonly origin: "wss" | "peer";
}

/**
 * POSTs a send to `{baseUrl}/internal/v1/messages`. Unreachable and 5xx become
 * UNAVAILABLE (retry with the same clientMsgId), 4xx BAD_REQUEST with the
 * callee's message.
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
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/internal/v1/messages`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await signServiceToken(key, caller)}`,
      },
      body: JSON.stringify(send),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    const message = `${callee} is unreachable; retry with the same clientMsgId`;
    throw new ChatError("UNAVAILABLE", message, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as {
    id?: unknown;
    duplicate?: unknown;
    error?: { message?: string };
  };
  if (res.status === 202 && typeof body.id === "string") {
    return { id: body.id, duplicate: body.duplicate === true };
  }
  throw new ChatError(
    res.status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST",
    body.error?.message ?? `${callee} answered ${res.status}`,
  );
}
