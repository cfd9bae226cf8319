// Calls to the console's API from the page.
import type { ErrorAnswer, TokenAnswer } from "../api.ts";

export type * from "../api.ts";

/** POSTs JSON to the console; rejects with the server's error message. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const res = await fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => null)) as unknown;
  if (!res.ok) {
    const message = (json as ErrorAnswer | null)?.error?.message;
    throw new Error(message ?? `${path} answered ${res.status}`);
  }
  return json as T;
}

/** A token for `user` and the WSS URLs to connect to (local mode only). */
export function fetchToken(user: string): Promise<TokenAnswer> {
  return postJson<TokenAnswer>("/api/token", { user });
}
