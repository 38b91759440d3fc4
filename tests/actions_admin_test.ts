import assert from "node:assert/strict";
import { ADMIN_TOKEN, createAction, openTestApp, problem, register } from "./helpers.ts";

Deno.test("[actions] every /admin route is 403 without ADMIN_TOKEN configured", async () => {
  const t = await openTestApp({ ADMIN_TOKEN: "" });
  try {
    const calls: [string, string, unknown?][] = [
      ["GET", "/admin/actions"],
      ["POST", "/admin/actions", { slug: "a", label: "A", pointValue: 1 }],
      ["PATCH", "/admin/actions/a", { label: "B" }],
      ["DELETE", "/admin/actions/a"],
      ["GET", "/admin/anything"],
    ];
    for (const [method, path, body] of calls) {
      for (const token of [undefined, ADMIN_TOKEN, ""]) {
        const res = await t.call(method, path, { body, token });
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal((await problem(res)).status, 403);
      }
    }
  } finally {
    await t.close();
  }
});

Deno.test("[actions] /admin refuses a missing, wrong or user token with 403", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    const headerSets: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${session.accessToken}` },
      { authorization: `Bearer ${ADMIN_TOKEN}x` },
      { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
      { authorization: `Basic ${ADMIN_TOKEN}` },
      { authorization: ADMIN_TOKEN },
    ];
    for (const headers of headerSets) {
      const res = await t.call("POST", "/admin/actions", {
        headers,
        body: { slug: "sneaky", label: "Sneaky", pointValue: 1000 },
      });
      assert.equal(res.status, 403, JSON.stringify(headers));
      await res.body?.cancel();
    }
    const [{ n }] = await t.db.sql`SELECT count(*)::int AS n FROM actions`;
    assert.equal(n, 0);
  } finally {
    await t.close();
  }
});

Deno.test("[actions] an operator creates, changes and retires actions", async () => {
  const t = await openTestApp();
  try {
    const created = await t.call("POST", "/admin/actions", {
      token: ADMIN_TOKEN,
      body: { slug: "daily-login", label: "  Daily login ", pointValue: 10 },
    });
    assert.equal(created.status, 201);
    assert.equal(created.headers.get("location"), "/admin/actions/daily-login");
    const action = await created.json();
    assert.deepEqual(Object.keys(action).sort(), [
      "cooldownSeconds",
      "createdAt",
      "label",
      "limit",
      "pointValue",
      "retiredAt",
      "slug",
    ]);
    assert.equal(action.slug, "daily-login");
    assert.deepEqual([action.limit, action.cooldownSeconds], [null, null]);
    assert.equal(action.label, "Daily login");
    assert.equal(action.pointValue, 10);
    assert.equal(action.retiredAt, null);
    assert.ok(!Number.isNaN(Date.parse(action.createdAt)));

    const patched = await t.call("PATCH", "/admin/actions/daily-login", {
      token: ADMIN_TOKEN,
      body: { pointValue: 15 },
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(await patched.json(), { ...action, pointValue: 15 });

    const relabelled = await t.call("PATCH", "/admin/actions/daily-login", {
      token: ADMIN_TOKEN,
      body: { label: "Log in today" },
    });
    assert.equal((await relabelled.json()).label, "Log in today");

    const listed = await t.call("GET", "/actions");
    assert.equal(listed.status, 200);
    assert.deepEqual((await listed.json()).actions.map((a: { slug: string }) => a.slug), [
      "daily-login",
    ]);

    const retired = await t.call("DELETE", "/admin/actions/daily-login", { token: ADMIN_TOKEN });
    assert.equal(retired.status, 204);
    const [row] = await t.db.sql`SELECT retired_at FROM actions WHERE slug = 'daily-login'`;
    assert.ok(row.retired_at instanceof Date);

    const again = await t.call("DELETE", "/admin/actions/daily-login", { token: ADMIN_TOKEN });
    assert.equal(again.status, 204);
    const [same] = await t.db.sql`SELECT retired_at FROM actions WHERE slug = 'daily-login'`;
    assert.equal(same.retired_at.getTime(), row.retired_at.getTime());

    const after = await (await t.call("GET", "/actions")).json();
    assert.deepEqual(after, { actions: [] });
    const all = await (await t.call("GET", "/admin/actions", { token: ADMIN_TOKEN })).json();
    assert.equal(all.actions[0].retiredAt, row.retired_at.toISOString());

    const taken = await t.call("POST", "/admin/actions", {
      token: ADMIN_TOKEN,
      body: { slug: "daily-login", label: "Again", pointValue: 1 },
    });
    assert.equal(taken.status, 409);
    assert.equal((await problem(taken)).status, 409);
  } finally {
    await t.close();
  }
});

const badBodies: [string, Record<string, unknown>, string][] = [
  ["an upper-case slug", { slug: "Daily-Login" }, "slug"],
  ["a slug with an underscore", { slug: "daily_login" }, "slug"],
  ["a slug with a leading hyphen", { slug: "-daily" }, "slug"],
  ["a slug with a double hyphen", { slug: "daily--login" }, "slug"],
  ["a slug with a trailing hyphen", { slug: "daily-" }, "slug"],
  ["a slug of 101 characters", { slug: "a".repeat(101) }, "slug"],
  ["an empty slug", { slug: "" }, "slug"],
  ["an empty label", { label: "   " }, "label"],
  ["a label of 256 characters", { label: "l".repeat(256) }, "label"],
  ["a label with a control character", { label: "tab\there" }, "label"],
  ["a pointValue of 0", { pointValue: 0 }, "pointValue"],
  ["a pointValue of 1,000,001", { pointValue: 1_000_001 }, "pointValue"],
  ["a fractional pointValue", { pointValue: 1.5 }, "pointValue"],
  ["a pointValue given as a string", { pointValue: "10" }, "pointValue"],
  ["a missing pointValue", { pointValue: undefined }, "pointValue"],
];

for (const [what, change, field] of badBodies) {
  Deno.test(`[actions] creating an action with ${what} is a 400`, async () => {
    const t = await openTestApp();
    try {
      const res = await t.call("POST", "/admin/actions", {
        token: ADMIN_TOKEN,
        body: { slug: "fine-slug", label: "Fine", pointValue: 5, ...change },
      });
      assert.equal(res.status, 400);
      const p = await problem(res);
      assert.deepEqual((p.errors as { path: string }[]).map((e) => e.path), [field]);
      const [{ n }] = await t.db.sql`SELECT count(*)::int AS n FROM actions`;
      assert.equal(n, 0);
    } finally {
      await t.close();
    }
  });
}

Deno.test("[actions] the limits are accepted: 100-character slug, 1 and 1,000,000 points", async () => {
  const t = await openTestApp();
  try {
    await createAction(t, 1, "a".repeat(100));
    await createAction(t, 1_000_000, "max-points");
  } finally {
    await t.close();
  }
});

Deno.test("[actions] PATCH validates, needs a field, and 404s an unknown slug", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 5);
    for (const body of [{}, { pointValue: 0 }, { label: "" }, { pointValue: "7" }]) {
      const res = await t.call("PATCH", `/admin/actions/${slug}`, { token: ADMIN_TOKEN, body });
      assert.equal(res.status, 400, JSON.stringify(body));
      await res.body?.cancel();
    }
    for (const path of ["/admin/actions/no-such-action", "/admin/actions/Not_A_Slug"]) {
      const res = await t.call("PATCH", path, { token: ADMIN_TOKEN, body: { label: "X" } });
      assert.equal(res.status, 404);
      await res.body?.cancel();
      const del = await t.call("DELETE", path, { token: ADMIN_TOKEN });
      assert.equal(del.status, 404);
      await del.body?.cancel();
    }
    // A slug that cannot exist is not found before its body is looked at.
    const bad = await t.call("PATCH", "/admin/actions/Not_A_Slug", {
      token: ADMIN_TOKEN,
      body: { pointValue: 0 },
    });
    assert.equal(bad.status, 404);
    await bad.body?.cancel();
    const [row] = await t.db.sql`SELECT point_value FROM actions WHERE slug = ${slug}`;
    assert.equal(row.point_value, 5);
  } finally {
    await t.close();
  }
});
