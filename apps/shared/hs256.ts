// HS256 token checks with one synchronous HMAC. The token library verifies
// through WebCrypto, an asynchronous job costing about 60-75 µs of CPU per
// token; this costs about 5 µs, and every connect and every API call checks a
// token. It checks what the library was asked to check: the compact form, the
// algorithm, the signature, then `exp` (required), `nbf`, `iat` and `aud`,
// with a small clock tolerance. RS256 tokens still go through the library.
import { createHmac, timingSafeEqual } from "node:crypto";

import { ChatError } from "./errors.ts";

/** Claims of a verified token; only the ones checked here are typed. */
export interface Claims {
  readonly [claim: string]: unknown;
  readonly sub?: unknown;
  readonly aud?: unknown;
  readonly exp: number;
}

/** A base64url segment: the alphabet only, no padding, nothing to skip. */
const SEGMENT = /^[A-Za-z0-9_-]+$/;
const SIGNATURE_BYTES = 32;

export const MALFORMED =
  "token is malformed; send a JWT as `Authorization: Bearer <token>`";

/**
 * Verifies an HS256 JWT signed with `secret` for `audience` and returns its
 * claims; throws an UNAUTHENTICATED ChatError saying what is wrong.
 */
export function verifyHs256(
  secret: Uint8Array,
  token: string,
  audience: string,
  clockToleranceSeconds = 2,
  nowMs = Date.now(),
): Claims {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => SEGMENT.test(p))) fail(MALFORMED);
  const [head, body, signature] = parts as [string, string, string];

  const header = decodeObject(head);
  if (header.alg !== "HS256") fail("token algorithm not allowed; use HS256");
  if (header.crit !== undefined) fail('token header "crit" is not supported');

  const given = Buffer.from(signature, "base64url");
  const expected = createHmac("sha256", secret).update(`${head}.${body}`).digest();
  // Only the canonical encoding: a token has one spelling.
  const canonical =
    given.length === SIGNATURE_BYTES && given.toString("base64url") === signature;
  if (!canonical || !timingSafeEqual(given, expected)) {
    fail("token signature does not verify");
  }

  const claims = decodeObject(body);
  const now = Math.floor(nowMs / 1000);
  for (const name of ["exp", "nbf", "iat"]) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== "number" || !Number.isFinite(value))) {
      fail(claimError(name, "invalid: it must be a number of seconds since the epoch"));
    }
  }
  if (claims.exp === undefined) fail(claimError("exp", "missing: tokens must expire"));
  if ((claims.exp as number) <= now - clockToleranceSeconds) {
    fail("token expired; get a new token");
  }
  if (claims.nbf !== undefined && (claims.nbf as number) > now + clockToleranceSeconds) {
    fail(claimError("nbf", "check_failed: the token is not valid yet"));
  }
  if (claims.aud === undefined) {
    fail(claimError("aud", `missing: it must name ${JSON.stringify(audience)}`));
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(audience)) {
    fail(claimError("aud", `check_failed: it must name ${JSON.stringify(audience)}`));
  }
  return claims as Claims;
}

function decodeObject(segment: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
  } catch {
    fail(MALFORMED);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    fail(MALFORMED);
  }
  return value as Record<string, unknown>;
}

function claimError(claim: string, reason: string): string {
  return `token claim "${claim}" is invalid: ${reason}`;
}

function fail(message: string): never {
  throw new ChatError("UNAUTHENTICATED", message);
}
