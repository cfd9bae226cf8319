// Token verification: HS256 with the shared secret, RS256 through a JWKS
// served on loopback, everything else refused.
import { createServer, type Server } from "node:http";

import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { loadRegions } from "../../regions/schema.ts";
import { secretKey, signUserToken, TokenVerifier } from "../../apps/shared/auth.ts";

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
