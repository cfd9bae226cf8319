// Hostile input, table-driven: every row throws one bad input at a WSS or the
// chat server and expects one exact answer. Meanwhile bystanders receive a
// steady stream; at the end nothing of theirs is lost, duplicated or out of
// order, and every process is still alive.
import { SignJWT } from "jose";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DeliveryChecker } from "../../apps/checker/checker.ts";
import { runSenders } from "../../apps/checker/senders.ts";
import { secretKey } from "../../apps/shared/auth.ts";
import { openRaw, type RawSocket } from "../helpers/raw.ts";
import { eventually, TestSystem } from "../helpers/system.ts";

let sys: TestSystem;
let wssUrl: string;
let csUrl: string;
let background: Promise<unknown>;
const checker = new DeliveryChecker();
const bystanders = ["by0:usa", "by1:usa", "by2:usa"];

beforeAll(async () => {
  sys = await TestSystem.start({
    only: ["usa"],
    appEnv: { CHAT_RATE_FRAMES_PER_S: "20", CHAT_RATE_SENDS_PER_S: "5" },
  });
  wssUrl = sys.region("usa").wss[0]!;
  csUrl = sys.region("usa").cs;
  await sys.receivers(bystanders, checker, { urls: [wssUrl] });
  background = runSenders({
    send: sys.httpSend(),
    checker,
    plans: bystanders.map((_, i) => ({
      from: `feed${i}:usa`,
      to: bystanders,
      count: 60,
    })),
    intervalMs: 150,
  });
});
afterAll(async () => {
  await sys?.stop();
});

const key = () => secretKey(sys.secrets.jwtSecret);

function jwt(
  claims: { sub?: string; aud?: string; exp?: number; nbf?: number },
  alg = "HS256",
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ nbf: claims.nbf })
    .setProtectedHeader({ alg })
    .setSubject(claims.sub ?? "mallory:usa")
    .setAudience(claims.aud ?? "chat")
    .setIssuedAt()
    .setExpirationTime(claims.exp ?? now + 600)
    .sign(alg === "HS256" ? key() : secretKey("another secret that is long enough!!"));
}

function unsigned(sub: string): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const exp = Math.floor(Date.now() / 1000) + 600;
  return `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub, aud: "chat", exp })}.`;
}

async function socket(user = "mallory:usa"): Promise<RawSocket> {
  const out = await openRaw(wssUrl, await sys.token(user));
  if (!out.raw) throw new Error(`connect refused: ${out.status}`);
  return out.raw;
}

const now = () => Math.floor(Date.now() / 1000);

// Refused upgrades: [name, token, path, HTTP status, error code, message pattern].
const upgrades: [
  string,
  () => Promise<string | undefined>,
  string,
  number,
  string,
  RegExp,
][] = [
  ["no token", async () => undefined, "", 401, "UNAUTHENTICATED", /Bearer/],
  ["garbage token", async () => "abc.def", "", 401, "UNAUTHENTICATED", /malformed/],
  [
    "alg none",
    async () => unsigned("mallory:usa"),
    "",
    401,
    "UNAUTHENTICATED",
    /algorithm "none"/,
  ],
  [
    "HS512 token",
    () => jwt({}, "HS512"),
    "",
    401,
    "UNAUTHENTICATED",
    /algorithm "HS512"/,
  ],
  [
    "expired token",
    () => jwt({ exp: now() - 60 }),
    "",
    401,
    "UNAUTHENTICATED",
    /expired/,
  ],
  ["not yet valid", () => jwt({ nbf: now() + 600 }), "", 401, "UNAUTHENTICATED", /nbf/],
  ["wrong audience", () => jwt({ aud: "other" }), "", 401, "UNAUTHENTICATED", /aud/],
  [
    "path traversal subject",
    () => jwt({ sub: "../etc:usa" }),
    "",
    401,
    "UNAUTHENTICATED",
    /name/,
  ],
  [
    "NUL in subject",
    () => jwt({ sub: "a\u0000b:usa" }),
    "",
    401,
    "UNAUTHENTICATED",
    /name/,
  ],
  [
    "undeclared region",
    () => jwt({ sub: "x:mars" }),
    "",
    401,
    "UNAUTHENTICATED",
    /"mars"/,
  ],
  [
    "very long subject",
    () => jwt({ sub: `${"a".repeat(5000)}:usa` }),
    "",
    401,
    "UNAUTHENTICATED",
    /too long/,
  ],
  [
    "user of another region",
    () => jwt({ sub: "bob:eu" }),
    "",
    403,
    "FORBIDDEN",
    /region eu/,
  ],
  ["wrong path", () => jwt({}), "/../admin", 404, "NOT_FOUND", /\/v1\/ws/],
  ["negative after", () => jwt({}), "?after=-1", 400, "BAD_REQUEST", /after/],
  ["after twice", () => jwt({}), "?after=1&after=7", 400, "BAD_REQUEST", /after once/],
  [
    "a 20 KB token",
    async () => "t".repeat(20_000),
    "",
    431,
    "HEADERS_TOO_LARGE",
    /over 16 KiB/,
  ],
];

// Frames on an open socket: [name, what to send, expected error code or close code].
type FrameCase = [string, (s: RawSocket) => void, { error: string } | { close: number }];
const frames: FrameCase[] = [
  ["not JSON", (s) => s.ws.send("hello?"), { error: "BAD_FRAME" }],
  [
    "truncated JSON",
    (s) => s.ws.send('{"type":"send","to":"bob:'),
    { error: "BAD_FRAME" },
  ],
  ["JSON array", (s) => s.ws.send("[1,2,3]"), { error: "BAD_FRAME" }],
  ["JSON null", (s) => s.ws.send("null"), { error: "BAD_FRAME" }],
  ["huge nesting", (s) => s.ws.send("[".repeat(60_000)), { error: "BAD_FRAME" }],
  ["unknown type", (s) => s.ws.send('{"type":"shutdown"}'), { error: "BAD_FRAME" }],
  [
    "very long type",
    (s) => s.ws.send(JSON.stringify({ type: "x".repeat(50_000) })),
    { error: "BAD_FRAME" },
  ],
  [
    "send without clientMsgId",
    (s) => s.ws.send('{"type":"send","to":"bob:eu","body":"x"}'),
    { error: "BAD_FRAME" },
  ],
  ["send to traversal id", (s) => sendFrame(s, "../x:usa", "x"), { error: "BAD_ID" }],
  [
    "send to undeclared region",
    (s) => sendFrame(s, "bob:mars", "x"),
    { error: "BAD_ID" },
  ],
  ["send with slash in id", (s) => sendFrame(s, "a/b:usa", "x"), { error: "BAD_ID" }],
  [
    "send with body too long",
    (s) => sendFrame(s, "bob:usa", "y".repeat(9000)),
    { error: "PAYLOAD_TOO_LARGE" },
  ],
  [
    "send with object body",
    (s) => sendFrame(s, "bob:usa", { nested: { deep: [1] } }),
    { error: "BAD_REQUEST" },
  ],
  [
    "send with forged from",
    (s) =>
      s.ws.send(
        JSON.stringify({
          type: "send",
          to: "a:mars",
          from: "boss:usa",
          body: "x",
          clientMsgId: "f",
        }),
      ),
    { error: "BAD_ID" },
  ],
  [
    "ack beyond what was sent",
    (s) => s.ws.send('{"type":"ack","upTo":99999}'),
    { error: "BAD_FRAME" },
  ],
  [
    "ack not a number",
    (s) => s.ws.send('{"type":"ack","upTo":"all"}'),
    { error: "BAD_FRAME" },
  ],
  [
    "resume negative",
    (s) => s.ws.send('{"type":"resume","after":-3}'),
    { error: "BAD_FRAME" },
  ],
  ["oversized frame", (s) => s.ws.send("z".repeat(70 * 1024)), { close: 1009 }],
  [
    "binary frame",
    (s) => s.ws.send(Buffer.from([1, 2, 3]), { binary: true }),
    { close: 4005 },
  ],
  [
    "invalid UTF-8",
    (s) => s.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false }),
    { close: 1007 },
  ],
  ["frame flood", (s) => floodPings(s), { close: 4008 }],
];

function sendFrame(s: RawSocket, to: string, body: unknown): void {
  s.ws.send(JSON.stringify({ type: "send", to, body, clientMsgId: `c${Math.random()}` }));
}

function floodPings(s: RawSocket): void {
  for (let i = 0; i < 200; i++) s.ws.send('{"type":"ping"}');
}

async function post(path: string, init: RequestInit & { token?: string }) {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string>) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const res = await fetch(`${csUrl}${path}`, { ...init, headers });
  const body = (await res.json().catch(() => ({}))) as { error?: { code: string } };
  return { status: res.status, code: body.error?.code, headers: res.headers };
}

describe("hostile input at the WSS upgrade", () => {
  for (const [name, token, path, status, code, message] of upgrades) {
    it(`refuses ${name} with ${status} ${code}`, async () => {
      const out = await openRaw(`${wssUrl}${path}`, await token());
      expect(out.raw).toBeUndefined();
      expect(out.status).toBe(status);
      expect(out.error?.code).toBe(code);
      expect(out.error?.message).toMatch(message);
    });
  }

  it("answers a plain request to the socket path with 426, not 404", async () => {
    const res = await fetch(wssUrl.replace(/^ws/, "http"));
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(426);
    expect(body.error.code).toBe("UPGRADE_REQUIRED");
    expect(body.error.message).toMatch(/Upgrade: websocket/);
  });

  it("refuses a malformed Authorization header, whatever the URL carries", async () => {
    const valid = await jwt({});
    const out = await openRaw(`${wssUrl}?token=${valid}`, `${valid} extra`);
    expect(out.status).toBe(401);
    expect(out.error?.message).toMatch(/Authorization header must be `Bearer <token>`/);
  });

  it("refuses a token replayed after it expired", async () => {
    const token = await jwt({ exp: now() + 1 });
    const first = await openRaw(wssUrl, token);
    expect(first.raw).toBeDefined();
    first.raw!.ws.close();
    await new Promise((r) => setTimeout(r, 3500));
    const again = await openRaw(wssUrl, token);
    expect(again.status).toBe(401);
    expect(again.error?.message).toMatch(/expired/);
  });
});

describe("hostile frames on an open socket", () => {
  for (const [name, act, expected] of frames) {
    const answer = "error" in expected ? expected.error : `close ${expected.close}`;
    it(`answers ${name} with ${answer}`, async () => {
      const s = await socket();
      s.ws.send('{"type":"resume","after":0}');
      act(s);
      if ("error" in expected) {
        const err = await s.nextError();
        expect(err.code).toBe(expected.error);
        expect(String(err.message).length).toBeGreaterThan(10);
        expect(s.ws.readyState).toBe(s.ws.OPEN);
        s.ws.close();
      } else {
        const { code } = await s.closed;
        expect(code).toBe(expected.close);
      }
    });
  }

  it("refuses a second resume", async () => {
    const s = await socket();
    s.ws.send('{"type":"resume","after":0}');
    s.ws.send('{"type":"resume","after":0}');
    expect((await s.nextError()).message).toMatch(/once/);
    s.ws.close();
  });

  it("limits sends per user with RATE_LIMITED errors, not a close", async () => {
    const s = await socket("spammer:usa");
    s.ws.send('{"type":"resume","after":0}');
    for (let i = 0; i < 30; i++) sendFrame(s, "by0:usa", `spam ${i}`);
    const err = await s.nextError();
    expect(err.code).toBe("RATE_LIMITED");
    expect(err.message).toMatch(/retry in \d+ s/);
    s.ws.close();
  });
});

describe("a client lying about what it holds", () => {
  it("cannot move its acknowledged cursor past what it was sent", async () => {
    const user = "forger:usa";
    await sys.post("feedx:usa", { to: user, body: "one", clientMsgId: "fg1" });
    const s = await socket(user);
    s.ws.send(JSON.stringify({ type: "resume", after: Number.MAX_SAFE_INTEGER }));
    s.ws.send(JSON.stringify({ type: "ack", upTo: Number.MAX_SAFE_INTEGER }));
    // Longer than the WSS's ack batching and the ack worker's flush together.
    await new Promise((r) => setTimeout(r, 2500));
    s.ws.close();

    expect(await sys.inbox().acked(user)).toBe(0);
    const res = await sys.post("feedx:usa", {
      to: user,
      body: "two",
      clientMsgId: "fg2",
    });
    expect(res.status).toBe(202);
    expect((await sys.inbox().read(user, 0)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it("is greeted before anything else, even when it resumes at once", async () => {
    const user = "hasty:usa";
    for (const i of [1, 2, 3]) {
      await sys.post("feedy:usa", { to: user, body: `b${i}`, clientMsgId: `h${i}` });
    }
    const ws = new WebSocket(wssUrl, {
      headers: { authorization: `Bearer ${await sys.token(user)}` },
    });
    const types: string[] = [];
    ws.on("open", () => ws.send('{"type":"resume","after":0}'));
    ws.on("message", (d) => types.push((JSON.parse(String(d)) as { type: string }).type));
    await eventually("hello and three messages", () => types.length >= 4);
    ws.close();
    expect(types.slice(0, 4)).toEqual(["hello", "msg", "msg", "msg"]);
  });
});

describe("hostile requests at the chat server", () => {
  const json = { "content-type": "application/json" };
  const cases: [
    string,
    () => Promise<{ status: number; code?: string }>,
    number,
    string,
  ][] = [
    [
      "no token",
      () => post("/v1/messages", { method: "POST", headers: json, body: "{}" }),
      401,
      "UNAUTHENTICATED",
    ],
    [
      "wrong content type",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: { "content-type": "text/plain" },
          body: "x",
        }),
      400,
      "BAD_REQUEST",
    ],
    [
      "invalid JSON",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: "{to:",
        }),
      400,
      "BAD_REQUEST",
    ],
    [
      "body over 64 KiB",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: JSON.stringify({ to: "by0:usa", body: "q".repeat(70_000) }),
        }),
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    [
      "unknown route",
      async () =>
        post("/v1/admin", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: "{}",
        }),
      404,
      "NOT_FOUND",
    ],
    [
      "bad inbox cursor",
      async () => post("/v1/inbox?after=-1", { token: await sys.token("m:usa") }),
      400,
      "BAD_REQUEST",
    ],
    [
      "headers over 16 KiB",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: { ...json, "x-padding": "p".repeat(20_000) },
          body: JSON.stringify({ to: "by0:usa", body: "x" }),
        }),
      431,
      "HEADERS_TOO_LARGE",
    ],
    [
      "a body that is not UTF-8",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: Buffer.concat([
            Buffer.from('{"to":"by0:usa","body":"'),
            Buffer.from([0xff, 0xfe]),
            Buffer.from('"}'),
          ]),
        }),
      400,
      "BAD_REQUEST",
    ],
    [
      "an inbox limit of 0",
      async () => post("/v1/inbox?limit=0", { token: await sys.token("m:usa") }),
      400,
      "BAD_REQUEST",
    ],
    [
      "an inbox limit over 1000",
      async () => post("/v1/inbox?limit=5000", { token: await sys.token("m:usa") }),
      400,
      "BAD_REQUEST",
    ],
    [
      "an Authorization header that is not Bearer",
      async () =>
        post("/v1/messages", {
          method: "POST",
          headers: { ...json, authorization: `Basic ${await sys.token("m:usa")}` },
          body: JSON.stringify({ to: "by0:usa", body: "x" }),
        }),
      401,
      "UNAUTHENTICATED",
    ],
    [
      "user token on the internal route",
      async () =>
        post("/internal/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: "{}",
        }),
      401,
      "UNAUTHENTICATED",
    ],
    [
      "alg none token",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: unsigned("m:usa"),
          headers: json,
          body: "{}",
        }),
      401,
      "UNAUTHENTICATED",
    ],
    [
      "user token on the internal group-copies route",
      async () =>
        post("/internal/v1/group-copies", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: JSON.stringify({ id: "m_x", from: "m:usa", group: "g:usa", members: [] }),
        }),
      401,
      "UNAUTHENTICATED",
    ],
    [
      "a group whose members are not a list",
      async () =>
        post("/v1/groups", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: JSON.stringify({ id: "hg1:usa", members: { "a:usa": 1 } }),
        }),
      400,
      "BAD_REQUEST",
    ],
    [
      "a group change naming 1,001 members",
      async () =>
        post("/v1/groups", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: JSON.stringify({
            id: "hg2:usa",
            members: Array.from({ length: 1001 }, (_, i) => `u${i}:usa`),
          }),
        }),
      400,
      "BAD_REQUEST",
    ],
    [
      "a group id with a path in it",
      async () =>
        post("/v1/groups/..%2F..%2Fetc:usa", { token: await sys.token("m:usa") }),
      400,
      "BAD_ID",
    ],
    [
      "a send to a group that does not exist",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: JSON.stringify({ group: "nogroup:usa", body: "x" }),
        }),
      404,
      "NOT_FOUND",
    ],
    [
      "a group send naming a user as well",
      async () =>
        post("/v1/messages", {
          method: "POST",
          token: await sys.token("m:usa"),
          headers: json,
          body: JSON.stringify({ group: "g:usa", to: "by0:usa", body: "x" }),
        }),
      400,
      "BAD_REQUEST",
    ],
  ];
  for (const [name, run, status, code] of cases) {
    it(`answers ${name} with ${status} ${code}`, async () => {
      const res = await run();
      expect(res.status).toBe(status);
      expect(res.code).toBe(code);
    });
  }

  it("answers a flood with 429 and Retry-After", async () => {
    const token = await sys.token("flood:usa");
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        post("/v1/messages", {
          method: "POST",
          token,
          headers: json,
          body: JSON.stringify({ to: "sink:usa", body: "f", clientMsgId: `fl${i}` }),
        }),
      ),
    );
    const limited = results.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited.every((r) => r.code === "RATE_LIMITED")).toBe(true);
    expect(Number(limited[0]!.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("takes the sender from the token, never from the body", async () => {
    const [victim] = await sys.receivers(["victim:usa"], new DeliveryChecker());
    const res = await post("/v1/messages", {
      method: "POST",
      token: await sys.token("liar:usa"),
      headers: json,
      body: JSON.stringify({
        to: "victim:usa",
        from: "boss:usa",
        body: "hi",
        clientMsgId: "l1",
      }),
    });
    expect(res.status).toBe(202);
    await new Promise((r) => setTimeout(r, 500));
    expect(victim!.inbox.map((m) => m.from)).toEqual(["liar:usa"]);
  });
});

describe("after all of it", () => {
  it("kept every process alive and every bystander's stream whole", async () => {
    await background;
    const report = await checker.settle(20_000);
    expect(report).toMatchObject({ sent: 180, lost: 0, duplicated: 0, outOfOrder: 0 });
    for (const p of sys.local.processes.values()) {
      expect(p.proc.exitCode, p.name).toBeNull();
      expect(p.proc.signalCode, p.name).toBeNull();
    }
    const metrics = await (
      await fetch(`${wssUrl.replace("ws", "http").replace("/v1/ws", "")}/metrics`)
    ).text();
    for (const reason of [
      "UNAUTHENTICATED",
      "FORBIDDEN",
      "BAD_FRAME",
      "PAYLOAD_TOO_LARGE",
      "INVALID_UTF8",
      "RATE_LIMITED",
    ]) {
      expect(metrics).toMatch(
        new RegExp(`chat_rejected_input_total\\{reason="${reason}"[^}]*\\} [1-9]`),
      );
    }
    // Closes the WebSocket library made for a protocol error count by their code.
    for (const code of ["1009", "1007", "4005", "4008"]) {
      expect(metrics).toMatch(
        new RegExp(`chat_wss_closes_total\\{code="${code}"[^}]*\\} [1-9]`),
      );
    }
  });
});
