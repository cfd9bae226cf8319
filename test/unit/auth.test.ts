// Token verification: HS256 with the shared secret, RS256 through a JWKS
// served on loopback, everything else refused.
import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";

import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { loadRegions } from "../../regions/schema.ts";
import { secretKey, signUserToken, TokenVerifier } from "../../apps/shared/auth.ts";
import { verifyHs256 } from "../../apps/shared/hs256.ts";

const regions = loadRegions();
const secret = "a shared secret of at least thirty-two bytes";
let server: Server;
let jwksUrl: string;
let privateKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair("RS256");
  privateKey = pair.privateKey as CryptoKey;
  const jwk = {
    ...(await exportJWK(pair.publicKey)),
    kid: "k1",
    alg: "RS256",
    use: "sig",
  };
  server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const addr = server.address();
  jwksUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/jwks.json`;
});
afterAll(() => {
  server.close();
});

function rs256(sub: string, kid = "k1") {
  return new SignJWT({})
    .setProtectedHeader({ alg: "RS256", kid })
    .setSubject(sub)
    .setAudience("chat")
    .setExpirationTime("10m")
    .sign(privateKey);
}

describe("token verification", () => {
  it("accepts HS256 with the shared secret", async () => {
    const v = new TokenVerifier(regions, { hsSecret: secret });
    const token = await signUserToken(secretKey(secret), "alice:usa");
    expect((await v.verify(token)).id).toBe("alice:usa");
  });

  it("accepts RS256 with a key from the JWKS", async () => {
    const v = new TokenVerifier(regions, { jwksUrl });
    expect((await v.verify(await rs256("bob:eu"))).id).toBe("bob:eu");
  });

  it("refuses an RS256 token whose key is not in the JWKS", async () => {
    const v = new TokenVerifier(regions, { jwksUrl });
    await expect(v.verify(await rs256("bob:eu", "other"))).rejects.toThrow(/JWKS/);
  });

  it("refuses an algorithm it was not configured for", async () => {
    const hsOnly = new TokenVerifier(regions, { hsSecret: secret });
    await expect(hsOnly.verify(await rs256("bob:eu"))).rejects.toThrow(
      /"RS256" is not accepted/,
    );
    const rsOnly = new TokenVerifier(regions, { jwksUrl });
    const hs = await signUserToken(secretKey(secret), "alice:usa");
    await expect(rsOnly.verify(hs)).rejects.toThrow(/"HS256" is not accepted; use RS256/);
  });

  it("refuses a token signed with another secret", async () => {
    const v = new TokenVerifier(regions, { hsSecret: secret });
    const forged = await signUserToken(secretKey("x".repeat(40)), "alice:usa");
    await expect(v.verify(forged)).rejects.toThrow(/signature/);
  });

  it("needs at least one way to verify, and a secret long enough", () => {
    expect(() => new TokenVerifier(regions, {})).toThrow(/CHAT_JWT_SECRET/);
    expect(() => new TokenVerifier(regions, { hsSecret: "short" })).toThrow(/32 bytes/);
  });
});

describe("HS256 checks", () => {
  const key = secretKey(secret);
  // Checked at the time the claims were made from, however late the test runs.
  const nowMs = Date.now();
  const now = Math.floor(nowMs / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const hs = (claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).sign(key);
  /** Signs any header and payload text, as a forger holding the key could. */
  const signed = (header: object, body: string) => {
    const h = b64(header);
    const p = Buffer.from(body).toString("base64url");
    return `${h}.${p}.${createHmac("sha256", key).update(`${h}.${p}`).digest("base64url")}`;
  };
  const check = (token: string) => verifyHs256(key, token, "chat", 2, nowMs);

  it("accepts what the token library signs, with every claim it checks", async () => {
    const token = await hs({ sub: "alice:usa", aud: ["other", "chat"], exp: now + 60 });
    expect(check(token)).toMatchObject({ sub: "alice:usa", exp: now + 60 });
    // Within the two seconds of clock tolerance on either side.
    expect(check(await hs({ aud: "chat", exp: now - 1, nbf: now + 1 })).exp).toBe(
      now - 1,
    );
  });

  it("refuses a changed payload, header or signature", async () => {
    const token = await hs({ sub: "alice:usa", aud: "chat", exp: now + 60 });
    const [h, p, s] = token.split(".") as [string, string, string];
    const forgedBody = b64({ sub: "admin:usa", aud: "chat", exp: now + 60 });
    expect(() => check(`${h}.${forgedBody}.${s}`)).toThrow(/signature does not verify/);
    const otherHeader = b64({ alg: "HS256", typ: "x" });
    expect(() => check(`${otherHeader}.${p}.${s}`)).toThrow(/signature does not verify/);
    const flipped = (s[0] === "A" ? "B" : "A") + s.slice(1);
    expect(() => check(`${h}.${p}.${flipped}`)).toThrow(/signature does not verify/);
    expect(() => check(`${h}.${p}.${s}A`)).toThrow(/signature does not verify/);
    expect(() => check(`${h}.${p}.${s.slice(0, 20)}`)).toThrow(
      /signature does not verify/,
    );
    expect(() => check(`${h}.${p}.${s}==`)).toThrow(/malformed/);
    // The same 32 bytes spelled another way (the last character's unused bits).
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const last = alphabet[alphabet.indexOf(s[s.length - 1]!) ^ 1]!;
    const respelled = s.slice(0, -1) + last;
    expect(Buffer.from(respelled, "base64url")).toEqual(Buffer.from(s, "base64url"));
    expect(() => check(`${h}.${p}.${respelled}`)).toThrow(/signature does not verify/);
  });

  it("refuses other algorithms and critical header extensions", () => {
    const body = JSON.stringify({ aud: "chat", exp: now + 60 });
    expect(() => check(`${b64({ alg: "none" })}.${b64(body)}.`)).toThrow(/malformed/);
    expect(() => check(signed({ alg: "none" }, body))).toThrow(/algorithm not allowed/);
    expect(() => check(signed({ alg: "hs256" }, body))).toThrow(/algorithm not allowed/);
    expect(() => check(signed({ alg: "HS256", crit: ["exp"] }, body))).toThrow(
      /"crit" is not supported/,
    );
    expect(check(signed({ alg: "HS256" }, body)).exp).toBe(now + 60);
  });

  it("refuses what is not a compact JWT of JSON objects", () => {
    for (const token of ["", "a.b", "a.b.c.d", "a b.c.d", "..."]) {
      expect(() => check(token)).toThrow(/malformed/);
    }
    expect(() => check(signed({ alg: "HS256" }, "[1,2]"))).toThrow(/malformed/);
    expect(() => check(signed({ alg: "HS256" }, "not json"))).toThrow(/malformed/);
    expect(() => check(signed({ alg: "HS256" }, "null"))).toThrow(/malformed/);
  });

  it("says which claim is wrong", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ aud: "chat" }, /claim "exp" is invalid: missing/],
      [{ aud: "chat", exp: "tomorrow" }, /claim "exp" is invalid: invalid/],
      [{ aud: "chat", exp: now - 3 }, /expired/],
      [{ aud: "chat", exp: now + 60, nbf: now + 10 }, /claim "nbf" is invalid: check/],
      [{ aud: "chat", exp: now + 60, iat: "now" }, /claim "iat" is invalid: invalid/],
      [{ exp: now + 60 }, /claim "aud" is invalid: missing/],
      [{ aud: "chat-internal", exp: now + 60 }, /claim "aud" is invalid: check_failed/],
      [{ aud: ["a", "b"], exp: now + 60 }, /claim "aud" is invalid: check_failed/],
    ];
    for (const [claims, error] of cases) {
      await expect(hs(claims).then(check), JSON.stringify(claims)).rejects.toThrow(error);
    }
  });
});
