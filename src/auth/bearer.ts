/** A check of `Authorization: Bearer <token>` against a secret, in constant time. */
import { createHash, timingSafeEqual } from "node:crypto";

const BEARER = /^Bearer +(\S+) *$/i;

const digest = (value: string) => createHash("sha256").update(value).digest();

/** Whether an Authorization header carries `secret`; digests keep it constant-time at any length. */
export function bearerCheck(secret: string): (authorization: string | undefined) => boolean {
  const expected = digest(secret);
  return (authorization) => {
    const match = BEARER.exec(authorization ?? "");
    return match !== null && timingSafeEqual(digest(match[1]), expected);
  };
}
