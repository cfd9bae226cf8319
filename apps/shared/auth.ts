// Tokens: user tokens (HS256 JWT, `sub` = user id) and the service tokens that
// WSS and chat servers present to each other. Only HS256 is accepted.
import {
  SignJWT,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
} from "jose";

import type { Regions } from "../../regions/schema.ts";
import { ChatError } from "./errors.ts";
import { MALFORMED, verifyHs256 } from "./hs256.ts";
import { parseId, type ParsedId } from "./ids.ts";

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

export interface VerifierOptions {
  /** Shared secret for HS256 tokens. */
  readonly hsSecret?: string;
  /** URL of a JSON Web Key Set for RS256 tokens (an identity provider's). */
  readonly jwksUrl?: string;
  /** Required `aud` claim. @default "chat" */
  readonly audience?: string;
}

/**
 * Verifies user tokens: HS256 with the shared secret, RS256 with a key of the
 * configured JWKS; any other algorithm (`none` included) is refused. `exp` and
 * `nbf` are checked; the subject must be a valid user id.
 */
export class TokenVerifier {
  private readonly hsKey: Uint8Array | undefined;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  private readonly audience: string;

  constructor(
    private readonly regions: Regions,
    options: VerifierOptions,
  ) {
    if (!options.hsSecret && !options.jwksUrl) {
      throw new Error("set CHAT_JWT_SECRET (HS256) or CHAT_JWKS_URL (RS256), or both");
    }
    this.hsKey = options.hsSecret ? secretKey(options.hsSecret) : undefined;
    this.jwks = options.jwksUrl
      ? createRemoteJWKSet(new URL(options.jwksUrl))
      : undefined;
    this.audience = options.audience ?? USER_AUDIENCE;
  }

  async verify(token: string): Promise<ParsedId> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch (err) {
      throw new ChatError("UNAUTHENTICATED", describeJwtError(err), { cause: err });
    }

    let payload;
    if (alg === "HS256" && this.hsKey) {
      payload = verifyHs256(this.hsKey, token, this.audience);
    } else if (alg === "RS256" && this.jwks) {
      payload = await verifyRs256(this.jwks, token, this.audience);
    } else {
      const allowed = [this.hsKey ? "HS256" : "", this.jwks ? "RS256" : ""].filter(
        Boolean,
      );
      throw new ChatError(
        "UNAUTHENTICATED",
        `token algorithm ${JSON.stringify(alg)} is not accepted; use ${allowed.join(" or ")}`,
      );
    }
    try {
      return parseId(payload.sub, this.regions, "token subject");
    } catch (err) {
      const detail = err instanceof ChatError ? err.message : "token subject is invalid";
      throw new ChatError("UNAUTHENTICATED", detail, { cause: err });
    }
  }
}

/** Verifies a user token signed with an HS256 key and returns its subject. */
export async function verifyUserToken(
  key: Uint8Array,
  token: string,
  regions: Regions,
): Promise<ParsedId> {
  const payload = verifyHs256(key, token, USER_AUDIENCE);
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
  const payload = verifyHs256(key, token, SERVICE_AUDIENCE);
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

/**
 * The token of a request: the Authorization header's, else (where a URL may
 * carry one) `fromQuery`. A header that is there but is not `Bearer <token>`
 * is refused, not passed over for the query's token.
 */
export function requestToken(
  header: string | undefined,
  fromQuery: string | null | undefined,
  missing = "send Authorization: Bearer <token>",
): string {
  if (header !== undefined) {
    const token = bearer(header);
    if (token) return token;
    throw new ChatError(
      "UNAUTHENTICATED",
      "the Authorization header must be `Bearer <token>`: the word Bearer, a space, one token",
    );
  }
  if (fromQuery) return fromQuery;
  throw new ChatError("UNAUTHENTICATED", missing);
}

async function verifyRs256(
  jwks: ReturnType<typeof createRemoteJWKSet>,
  token: string,
  audience: string,
) {
  try {
    const options = {
      algorithms: ["RS256"],
      audience,
      clockTolerance: 2,
      requiredClaims: ["exp"],
    };
    return (await jwtVerify(token, jwks, options)).payload;
  } catch (err) {
    throw new ChatError("UNAUTHENTICATED", describeJwtError(err), { cause: err });
  }
}

function describeJwtError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired; get a new token";
  if (err instanceof joseErrors.JWKSNoMatchingKey)
    return "token key id is not in the JWKS";
  if (err instanceof joseErrors.JWKSTimeout || err instanceof joseErrors.JOSEError) {
    if (err.code === "ERR_JWKS_TIMEOUT")
      return "identity provider keys unreachable; retry";
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    return `token claim "${err.claim}" is invalid: ${err.reason}`;
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed)
    return "token algorithm not allowed; use HS256";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return "token signature does not verify";
  }
  return MALFORMED;
}
