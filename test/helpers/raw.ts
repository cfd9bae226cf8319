// A bare WebSocket for hostile-input tests: connects with whatever token and
// path it is given and records the refusal, the frames and the close.
import WebSocket from "ws";

export interface RawOutcome {
  /** HTTP status of a refused upgrade. */
  readonly status?: number;
  /** JSON error body of a refused upgrade. */
  readonly error?: { code: string; message: string };
  readonly ws?: WebSocket;
}

export interface RawSocket {
  readonly ws: WebSocket;
  readonly frames: Record<string, unknown>[];
  /** Resolves with the close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** The next error frame (waits up to `timeoutMs`). */
  nextError(timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Opens a socket; resolves with the refusal or the socket once the server said hello. */
export async function openRaw(
  url: string,
  token?: string,
): Promise<RawOutcome & { raw?: RawSocket }> {
  const headers = token ? { authorization: `Bearer ${token}` } : undefined;
  const ws = new WebSocket(url, { headers });
  const frames: Record<string, unknown>[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on("message", (data) => {
    try {
      frames.push(JSON.parse(String(data)) as Record<string, unknown>);
    } catch {
      frames.push({ type: "unparsable", data: String(data) });
    }
  });

  return new Promise((resolve) => {
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => {
        const parsed = JSON.parse(body || "{}") as { error?: RawOutcome["error"] };
        resolve({ status: res.statusCode, error: parsed.error });
      });
    });
    ws.on("error", () => undefined);
    const started = Date.now();
    const waitHello = () => {
      if (frames.some((f) => f.type === "hello")) {
        resolve({ ws, raw: makeRaw(ws, frames, closed) });
      } else if (Date.now() - started < 10_000 && ws.readyState <= WebSocket.OPEN) {
        setTimeout(waitHello, 10);
      }
    };
    ws.on("open", waitHello);
  });
}

function makeRaw(
  ws: WebSocket,
  frames: Record<string, unknown>[],
  closed: RawSocket["closed"],
): RawSocket {
  let seen = 0;
  return {
    ws,
    frames,
    closed,
    async nextError(timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const errors = frames.filter((f) => f.type === "error");
        if (errors.length > seen) return errors[seen++]!;
        if (Date.now() > deadline) throw new Error("no error frame arrived");
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}
