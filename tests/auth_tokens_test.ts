import assert from "node:assert/strict";
import { generateKeyPair, SignJWT } from "jose";
import { JWT_SECRET, openTestApp, problem, register } from "./helpers.ts";

const encoder = new TextEncoder();
const b64 = (value: unknown) =>
  btoa(JSON.stringify(value)).replace(/=+$/, "")
    .replaceAll("+", "-").replaceAll("/", "_");

async function sign(
  claims: Record<string, unknown>,
  options: { alg?: string; secret?: string; exp?: number | null } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? "HS256" }).setIssuedAt(
    now,
  );
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now + 600);
  return await jwt.sign(encoder.encode(options.secret ?? JWT_SECRET));
}

Deno.test("[auth] access tokens are HS256 JWTs with sub, iat and exp", async () => {
  const t = await openTestApp({ ACCESS_TOKEN_TTL: "120" });
  try {
    const session = await register(t);
    const [header, payload] = session.accessToken.split(".").slice(0, 2).map((part) =>
      JSON.parse(atob(part.replaceAll("-", "+").replaceAll("_", "/")))
    );
    assert.equal(header.alg, "HS256");
    assert.equal(payload.sub, String(session.account.id));
    assert.equal(payload.exp - payload.iat, 120);
    assert.equal(session.expiresIn, 120);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] a token of ours with only sub and exp is accepted", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    const token = await sign({ sub: String(session.account.id) });
    const res = await t.call("GET", "/me", { token });
    assert.equal(res.status, 200);
    await res.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[auth] bad access tokens are refused with 401 and WWW-Authenticate", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    const sub = String(session.account.id);
    const now = Math.floor(Date.now() / 1000);
    const { privateKey } = await generateKeyPair("RS256");
    const rs256 = await new SignJWT({ sub }).setProtectedHeader({ alg: "RS256" })
      .setExpirationTime(now + 600).sign(privateKey);
    const [, payload] = session.accessToken.split(".");

    const cases: [string, Record<string, string>][] = [
      ["no Authorization header", {}],
      ["another scheme", { authorization: `Basic ${btoa("a:b")}` }],
      ["Bearer without a token", { authorization: "Bearer " }],
      ["garbage", { authorization: "Bearer not-a-jwt" }],
      ["three garbage parts", { authorization: "Bearer a.b.c" }],
      ["alg none", { authorization: `Bearer ${b64({ alg: "none", typ: "JWT" })}.${payload}.` }],
      ["another key", {
        authorization: `Bearer ${await sign({ sub }, { secret: "x".repeat(40) })}`,
      }],
      ["HS512 with our key", { authorization: `Bearer ${await sign({ sub }, { alg: "HS512" })}` }],
      ["RS256", { authorization: `Bearer ${rs256}` }],
      ["an expired exp", { authorization: `Bearer ${await sign({ sub }, { exp: now - 60 })}` }],
      ["no exp", { authorization: `Bearer ${await sign({ sub }, { exp: null })}` }],
      ["no sub", { authorization: `Bearer ${await sign({})}` }],
      ["a sub that is not an id", { authorization: `Bearer ${await sign({ sub: "admin" })}` }],
      ["an account that does not exist", {
        authorization: `Bearer ${await sign({ sub: "2000000000" })}`,
      }],
      ["a tampered payload", {
        authorization: `Bearer ${session.accessToken.split(".")[0]}.${
          b64({ sub: "1", exp: now + 999 })
        }.${session.accessToken.split(".")[2]}`,
      }],
    ];
    for (const [what, headers] of cases) {
      const res = await t.call("GET", "/me", { headers });
      assert.equal(res.status, 401, what);
      assert.match(res.headers.get("www-authenticate") ?? "", /^Bearer realm="scoreboard"/, what);
      const p = await problem(res);
      assert.equal(p.status, 401, what);
    }
  } finally {
    await t.close();
  }
});
