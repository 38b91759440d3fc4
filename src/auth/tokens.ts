/** Access tokens (HS256 JWTs) and refresh tokens (opaque, stored as sha256). */
import { createHash, randomBytes } from "node:crypto";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

/** Whom a verified access token speaks for. */
export interface TokenSubject {
  accountId: number;
  /** The session it was issued in (`sid`); null for a token without one, which API.md allows. */
  sessionId: number | null;
}

/** Signs and verifies access tokens. */
export interface AccessTokens {
  /** Lifetime in seconds (the Session's `expiresIn`). */
  readonly ttl: number;
  sign(accountId: number, sessionId: number): Promise<string>;
  /** Whom the token was issued to, or null when it is not a valid token of ours. */
  verify(token: string): Promise<TokenSubject | null>;
}

const MAX_ID = 2 ** 31 - 1;

/** `sid`: absent, or a SERIAL id; anything else makes the token invalid (undefined). */
function sessionClaim(sid: unknown): number | null | undefined {
  if (sid === undefined) return null;
  return Number.isInteger(sid) && (sid as number) >= 1 && (sid as number) <= MAX_ID
    ? sid as number
    : undefined;
}

/** Tokens already verified, kept so that a client's every request does not re-run HMAC. */
const VERIFIED_CACHE_SIZE = 10_000;

/** Access tokens signed with `secret` (at least 32 bytes) that live `ttl` seconds. */
export function createAccessTokens(secret: Uint8Array, ttl: number): AccessTokens {
  if (secret.length < 32) throw new RangeError("the JWT secret must be at least 32 bytes");
  // Imported once: jose would import a raw secret again on every call.
  const key = crypto.subtle.importKey(
    "raw",
    secret as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const verified = new Map<string, TokenSubject & { exp: number }>();
  return {
    ttl,
    async sign(accountId, sessionId) {
      const now = Math.floor(Date.now() / 1000);
      return await new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(String(accountId))
        .setIssuedAt(now)
        .setExpirationTime(now + ttl)
        .sign(await key);
    },
    async verify(token) {
      const known = verified.get(token);
      if (known) {
        if (known.exp * 1000 > Date.now()) {
          return { accountId: known.accountId, sessionId: known.sessionId };
        }
        verified.delete(token);
        return null;
      }
      try {
        const { payload } = await jwtVerify(token, await key, {
          algorithms: ["HS256"],
          requiredClaims: ["sub", "exp"],
        });
        const sub = payload.sub ?? "";
        if (!/^[1-9]\d{0,9}$/.test(sub) || Number(sub) > MAX_ID) return null;
        const sessionId = sessionClaim(payload.sid);
        if (sessionId === undefined) return null;
        const subject = { accountId: Number(sub), sessionId };
        // Keyed by the whole token: only a token that verified, byte for byte, can hit.
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
        verified.set(token, { ...subject, exp: payload.exp! });
        return subject;
      } catch (error) {
        if (error instanceof joseErrors.JOSEError) return null;
        throw error;
      }
    },
  };
}

/** A new refresh token: 256 random bits for the client, and the hash that is stored. */
export function newRefreshToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString("base64url");
  return { token, hash: hashRefreshToken(token) };
}

/** The sha256 (hex) under which a refresh token is stored. */
export function hashRefreshToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
