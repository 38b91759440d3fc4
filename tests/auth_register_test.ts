import assert from "node:assert/strict";
import { newUser, openTestApp, problem, register } from "./helpers.ts";

Deno.test("[auth] register answers 201 with a Session and stores a bcrypt hash", async () => {
  const t = await openTestApp({ BCRYPT_COST: "5" });
  try {
    const user = newUser();
    const res = await t.call("POST", "/auth/register", { body: user });
    assert.equal(res.status, 201);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const session = await res.json();
    assert.deepEqual(Object.keys(session).sort(), [
      "accessToken",
      "account",
      "expiresIn",
      "refreshToken",
      "tokenType",
    ]);
    assert.equal(session.tokenType, "Bearer");
    assert.equal(session.expiresIn, 900);
    assert.equal(typeof session.account.id, "number");
    assert.equal(session.account.username, user.username);
    assert.equal(session.account.email, user.email);
    assert.ok(!Number.isNaN(Date.parse(session.account.createdAt)));
    assert.equal(Object.keys(session.account).length, 4);
    assert.ok(session.refreshToken.length >= 43, "at least 256 bits");

    const [row] = await t.db
      .sql`SELECT password_hash FROM accounts WHERE id = ${session.account.id}`;
    assert.match(row.password_hash, /^\$2[aby]\$05\$/);
    const [token] = await t.db.sql`SELECT token_hash, expires_at FROM refresh_tokens`;
    assert.notEqual(token.token_hash, session.refreshToken);
    assert.match(token.token_hash, /^[0-9a-f]{64}$/);
    const days = (token.expires_at.getTime() - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `refresh token lives 30 days (${days})`);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] register trims the username and lower-cases the email", async () => {
  const t = await openTestApp();
  try {
    const user = newUser();
    const session = await register(t, {
      ...user,
      username: `  ${user.username}\t`,
      email: `  ${user.email.toUpperCase()} `,
    });
    assert.equal(session.account.username, user.username);
    assert.equal(session.account.email, user.email);
  } finally {
    await t.close();
  }
});

const invalid: [string, Record<string, unknown>, string][] = [
  ["a username of 2 characters", { username: "ab" }, "username"],
  ["a username of 2 characters once trimmed", { username: "  ab   " }, "username"],
  ["a username of 101 characters", { username: "u".repeat(101) }, "username"],
  ["a username with a control character", { username: "bad\u0007name" }, "username"],
  ["a username with a newline", { username: "two\nlines" }, "username"],
  ["a username that is not a string", { username: 12345 }, "username"],
  ["an email without @", { email: "not-an-email" }, "email"],
  ["an email of 256 characters", { email: `${"e".repeat(244)}@example.com` }, "email"],
  ["an empty email", { email: "" }, "email"],
  ["a password of 7 bytes", { password: "1234567" }, "password"],
  ["a password of 73 bytes", { password: "p".repeat(73) }, "password"],
  ["a password of 37 two-byte characters (74 bytes)", { password: "é".repeat(37) }, "password"],
  ["a password that is not a string", { password: 12345678 }, "password"],
  ["a missing password", { password: undefined }, "password"],
];

for (const [what, change, field] of invalid) {
  Deno.test(`[auth] register refuses ${what} with 400 and changes nothing`, async () => {
    const t = await openTestApp();
    try {
      const res = await t.call("POST", "/auth/register", { body: { ...newUser(), ...change } });
      assert.equal(res.status, 400);
      const p = await problem(res);
      assert.equal(p.status, 400);
      const errors = p.errors as { path: string; message: string }[];
      assert.deepEqual(errors.map((e) => e.path), [field]);
      assert.ok(errors[0].message.length > 0);
      const [{ n }] = await t.db.sql`SELECT count(*)::int AS n FROM accounts`;
      assert.equal(n, 0);
    } finally {
      await t.close();
    }
  });
}

Deno.test("[auth] register accepts the limits: 3 and 100 characters, 8 and 72 bytes", async () => {
  const t = await openTestApp();
  try {
    for (
      const change of [
        { username: `a${crypto.randomUUID().slice(0, 2)}` },
        { username: "ü".repeat(97) + crypto.randomUUID().slice(0, 3) },
        { password: "12345678" },
        { password: "é".repeat(36) },
      ]
    ) {
      const res = await t.call("POST", "/auth/register", { body: { ...newUser(), ...change } });
      assert.equal(res.status, 201, JSON.stringify(change));
      await res.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[auth] a username or email taken in another case is a 409", async () => {
  const t = await openTestApp();
  try {
    const first = newUser();
    await register(t, first);

    const sameName = await t.call("POST", "/auth/register", {
      body: { ...newUser(), username: first.username.toUpperCase() },
    });
    assert.equal(sameName.status, 409);
    assert.match(String((await problem(sameName)).detail), /username/);

    const sameEmail = await t.call("POST", "/auth/register", {
      body: { ...newUser(), email: first.email.toUpperCase() },
    });
    assert.equal(sameEmail.status, 409);
    assert.match(String((await problem(sameEmail)).detail), /email/);

    const [{ n }] = await t.db.sql`SELECT count(*)::int AS n FROM accounts`;
    assert.equal(n, 1);
  } finally {
    await t.close();
  }
});

Deno.test("[auth] two registrations racing for one username: one 201, one 409", async () => {
  const t = await openTestApp();
  try {
    const name = newUser().username;
    const results = await Promise.all(
      [0, 1].map(() =>
        t.call("POST", "/auth/register", { body: { ...newUser(), username: name } })
      ),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409]);
    for (const r of results) await r.body?.cancel();
  } finally {
    await t.close();
  }
});
