/**
 * Usernames nobody can fake (API.md "Accounts and sessions"): the classes a name may hold, one
 * script per word, no invisible characters, and uniqueness by look (the confusable skeleton,
 * case-folded). Through POST /auth/register in both ways an instance runs, then the migration
 * step that keys the names accounts already had.
 */
import assert from "node:assert/strict";
import { fillUsernameKeys } from "../src/db/username_keys.ts";
import { usernameKey } from "../src/auth/usernames.ts";
import { migrate } from "../src/db/migrate.ts";
import { createTestDatabase, newUser, openTestApp, problem, type TestApp } from "./helpers.ts";

const MODES: Record<string, Record<string, string>> = {
  "redis": {},
  "postgres only": { REDIS_URL: "" },
};

/** Names people have: each registers and shows on the board as it was given (NFC). */
const REAL_NAMES = [
  "李小龙",
  "山田たろう", // Han and Hiragana: Japanese, one writing system
  "김민준",
  "محمد علي",
  "José Ñúñez",
  "Zoë O'Brien-Smith",
  "Ελένη",
  "Владимир",
  "Ana 🎮",
  "👨‍👩‍👧 family", // a ZWJ sequence is an emoji, not an invisible character
  "flag 🇫🇷 fan",
  "ada_lovelace.1815",
];

/** Names that pass for others or break a row: [why, name, what the message says]. */
const REFUSED: [string, string, RegExp][] = [
  ["a Cyrillic а in a Latin word", "p\u0430ypal", /one script/],
  ["Greek and Latin in one word", "\u03b1lpha", /one script/],
  ["the right-to-left override", "ada\u202eevil", /invisible or formatting.*U\+202E/],
  ["a zero-width space", "ad\u200ba", /invisible or formatting.*U\+200B/],
  ["a zero-width joiner between letters", "ad\u200da", /invisible or formatting.*U\+200D/],
  ["a Unicode tag character", "ada\u{E0041}", /invisible or formatting.*U\+E0041/],
  ["only invisible characters", "\u200b\u200c\u2060\u200b", /invisible or formatting/],
  ["only Hangul fillers", "\u3164\u3164\u3164", /invisible or formatting/],
  ["a variation selector outside an emoji", "ada\ufe0f", /invisible or formatting.*U\+FE0F/],
  ["50 stacked combining marks", "z" + "\u0301".repeat(50), /more than 4 combining marks/],
  ["no letter or number", "🎮🎮🎮", /at least one letter or number/],
  ["punctuation", "ada!", /only letters, marks, numbers/],
  ["a no-break space", "ada\u00a0lovelace", /only letters, marks, numbers/],
  ["two spaces in a row", "ada  lovelace", /two spaces in a row/],
  ["a control character", "ada\u0007x", /control characters/],
];

async function registerAs(t: TestApp, username: string): Promise<Response> {
  return await t.call("POST", "/auth/register", { body: { ...newUser("n"), username } });
}

Deno.test("[usernames] the key: the skeleton, case-folded — paypal, PaypaI, PAYPAL, paypa1 are one", () => {
  const paypal = usernameKey("paypal");
  for (const name of ["PaypaI", "PAYPAL", "PayPal", "paypa1", "p\u0430ypal", "ｐａｙｐａｌ"]) {
    assert.equal(usernameKey(name), paypal, name);
  }
  assert.equal(usernameKey("mary"), usernameKey("rnary"));
  assert.equal(usernameKey("straße"), usernameKey("STRASSE"));
  for (const [a, b] of [["ada", "adb"], ["李小龙", "李小虎"], ["ana", "ana 2"]]) {
    assert.notEqual(usernameKey(a), usernameKey(b), `${a} / ${b}`);
  }
});

for (const [mode, env] of Object.entries(MODES)) {
  Deno.test(`[usernames, ${mode}] real names register and show as given`, async () => {
    const t = await openTestApp(env);
    try {
      for (const name of REAL_NAMES) {
        const res = await registerAs(t, name.normalize("NFD"));
        assert.equal(res.status, 201, `${name}: ${await res.clone().text()}`);
        const session = await res.json();
        assert.equal(session.account.username, name.normalize("NFC"), name);
      }
    } finally {
      await t.close();
    }
  });

  Deno.test(`[usernames, ${mode}] names that pass for others are 400 and change nothing`, async () => {
    const t = await openTestApp(env);
    try {
      for (const [why, name, message] of REFUSED) {
        const res = await registerAs(t, name);
        assert.equal(res.status, 400, `${why}: ${await res.clone().text()}`);
        const body = await problem(res);
        assert.equal(body.type, "urn:scoreboard:problem:validation-error", why);
        const errors = body.errors as { path: string; message: string }[];
        assert.equal(errors[0].path, "username", why);
        assert.match(errors[0].message, message, why);
      }
      const [{ count }] = await t.db.sql`SELECT count(*)::int AS count FROM accounts`;
      assert.equal(count, 0);
    } finally {
      await t.close();
    }
  });

  Deno.test(`[usernames, ${mode}] a name that looks like a taken one is 409, like the taken one`, async () => {
    const t = await openTestApp(env);
    try {
      const first = await registerAs(t, "paypal");
      assert.equal(first.status, 201);
      for (const name of ["paypal", "PaypaI", "PAYPAL", "paypa1"]) {
        const res = await registerAs(t, name);
        assert.equal(res.status, 409, name);
        const body = await problem(res);
        assert.equal(body.type, "urn:scoreboard:problem:username-taken", name);
      }
      assert.match(
        String((await problem(await registerAs(t, "PaypaI"))).detail),
        /looks like one already taken/,
      );
      assert.equal((await registerAs(t, "paypal-2")).status, 201);
      const rows = await t.db.sql`SELECT username FROM accounts ORDER BY id`;
      assert.deepEqual(rows.map((row) => row.username), ["paypal", "paypal-2"]);
    } finally {
      await t.close();
    }
  });
}

Deno.test("[usernames] the migration step keys existing names, oldest first; look-alikes keep their names", async () => {
  const t = await openTestApp();
  try {
    // Accounts from before keys existed (an earlier release inserts none).
    const insert = (username: string) =>
      t.db.sql`INSERT INTO accounts (username, email, password_hash)
        VALUES (${username}, ${`${crypto.randomUUID()}@example.com`}, 'x') RETURNING id`;
    const [older] = await insert("paypal");
    const [lookAlike] = await insert("PaypaI");
    const [other] = await insert("ada");
    const kept = await t.db.sql.begin((tx) => fillUsernameKeys(tx));
    assert.deepEqual(kept, [{
      id: lookAlike.id,
      username: "PaypaI",
      like: { id: older.id, username: "paypal" },
    }]);
    const keys = new Map(
      (await t.db.sql`SELECT id, username_key FROM accounts`).map((row) => [
        row.id,
        row.username_key,
      ]),
    );
    assert.equal(keys.get(older.id), usernameKey("paypal"));
    assert.equal(keys.get(other.id), usernameKey("ada"));
    assert.notEqual(keys.get(lookAlike.id), usernameKey("paypal"));
    assert.ok(String(keys.get(lookAlike.id)).startsWith(usernameKey("paypal")));
    // Nothing left to key: a second run keeps nothing and changes nothing.
    assert.deepEqual(await t.db.sql.begin((tx) => fillUsernameKeys(tx)), []);
    // Once keyed, the names they look like are taken; both old names stay as they were.
    assert.equal((await registerAs(t, "PAYPAL")).status, 409);
    assert.equal((await registerAs(t, "ADA")).status, 409);
    const names = await t.db.sql`SELECT username FROM accounts ORDER BY id`;
    assert.deepEqual(names.map((row) => row.username), ["paypal", "PaypaI", "ada"]);
  } finally {
    await t.close();
  }
});

Deno.test("[usernames] every migration runs the step: an instance's start keys names left without one", async () => {
  const db = await createTestDatabase();
  try {
    // As an instance of the previous release inserts during a rolling update.
    await db.sql`INSERT INTO accounts (username, email, password_hash)
      VALUES ('mary', 'mary@example.com', 'x'), ('rnary', 'rnary@example.com', 'x')`;
    const { applied, lookAlikes } = await migrate(db.url, { onLine: () => {} });
    assert.deepEqual(applied, []);
    assert.deepEqual(lookAlikes.map((found) => [found.username, found.like.username]), [
      ["rnary", "mary"],
    ]);
    const [{ missing }] = await db.sql`
      SELECT count(*)::int AS missing FROM accounts WHERE username_key IS NULL`;
    assert.equal(missing, 0);
  } finally {
    await db.drop();
  }
});
