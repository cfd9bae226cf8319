// Tokens: user tokens (HS256 JWT, `sub` = user id) and the service tokens that
// WSS and chat servers present to each other. Only HS256 is accepted.
import { SignJWT, errors as joseErrors, jwtVerify } from "jose";

import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "./errors.ts";
import { parseId, type ParsedId } from "./ids.ts";

const ALGORITHMS = ["HS256"];
const USER_AUDIENCE = "chat";
const SERVICE_AUDIENCE = "chat-internal";
const MIN_SECRET_BYTES = 32;

/** Turns a shared secret into a key; rejects secrets too short to be safe. */
export function secretKey(secret: string, name = "CHAT_JWT_SECRET"): Uint8Array {
  const key = new TextEncoder().encode(secret);
  if (key.length < MIN_SECRET_BYTES) {
    throw new Error(`${name} must be at least ${MIN_SECRET_BYTES} bytes long`);
  }
  return key;
}

/** Signs a user token for `userId`, valid for `ttlSeconds`. */
export async function signUserToken(
  key: Uint8Array,
  userId: string,
  ttlSeconds = 24 * 3600,
): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(userId)
    .setAudience(USER_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(`${ttlSeconds}s`)
    .sign(key);
}

/** Verifies a user token and returns its subject, a validated user id. */
export async function verifyUserToken(
  key: Uint8Array,
  token: string,
  regions: Regions,
): Promise<ParsedId> {
  const payload = await verify(key, token, USER_AUDIENCE);
  try {
    return parseId(payload.sub, regions, "token subject");
  } catch (err) {
    const detail = err instanceof ChatError ? err.message : "token subject is invalid";
    throw new ChatError("UNAUTHENTICATED", detail, { cause: err });
  }
}

/** Signs a short-lived service token naming the calling component. */
export async function signServiceToken(key: Uint8Array, caller: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(caller)
    .setAudience(SERVICE_AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(key);
}

/** Verifies a service token and returns the caller it names. */
export async function verifyServiceToken(
  key: Uint8Array,
  token: string,
): Promise<string> {
  const payload = await verify(key, token, SERVICE_AUDIENCE);
  if (typeof payload.sub !== "string") {
    throw new ChatError("UNAUTHENTICATED", "service token has no subject");
  }
  return payload.sub;
}

/** Extracts a bearer token from an Authorization header value. */
export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}

async function verify(key: Uint8Array, token: string, audience: string) {
  try {
    const { payload } = await jwtVerify(token, key, { algorithms: ALGORITHMS, audience });
    return payload;
  } catch (err) {
    throw new ChatError("UNAUTHENTICATED", describeJwtError(err), { cause: err });
  }
}

function describeJwtError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired; get a new token";
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return `token claim "${err.claim}" is invalid: ${err.reason}`;
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return "token algorithm not allowed; use HS256";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return "token signature does not verify";
  }
  return "token is malformed; send a JWT as `Authorization: Bearer <token>`";
}
