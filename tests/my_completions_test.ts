import assert from "node:assert/strict";
import { ADMIN_TOKEN, complete, createAction, openTestApp, problem, register } from "./helpers.ts";

Deno.test("[completions] GET /me/completions pages newest first with nextBefore", async () => {
  const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000" });
  try {
    const a = await createAction(t, 1);
    const b = await createAction(t, 2);
    const session = await register(t);
    const other = await register(t);
    const made = [];
    for (let i = 0; i < 5; i++) {
      made.push(
        (await (await complete(t, session.accessToken, i % 2 ? b.slug : a.slug)).json()).completion,
      );
    }
    await (await complete(t, other.accessToken, a.slug)).body?.cancel();

    const first = await t.call("GET", "/me/completions?limit=2", { token: session.accessToken });
    assert.equal(first.status, 200);
    const page1 = await first.json();
    assert.deepEqual(page1.completions, [made[4], made[3]]);
    assert.equal(page1.nextBefore, made[3].id);

    const page2 = await (await t.call("GET", `/me/completions?limit=2&before=${page1.nextBefore}`, {
      token: session.accessToken,
    })).json();
    assert.deepEqual(page2.completions, [made[2], made[1]]);

    const page3 = await (await t.call("GET", `/me/completions?limit=2&before=${page2.nextBefore}`, {
      token: session.accessToken,
    })).json();
    assert.deepEqual(page3, { completions: [made[0]], nextBefore: null });

    const all = await (await t.call("GET", "/me/completions", { token: session.accessToken }))
      .json();
    assert.deepEqual(all, { completions: [...made].reverse(), nextBefore: null });

    const exact = await (await t.call("GET", "/me/completions?limit=5", {
      token: session.accessToken,
    })).json();
    assert.equal(exact.nextBefore, null, "no page after the last item");
  } finally {
    await t.close();
  }
});

Deno.test("[completions] GET /me/completions of a new account is empty", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    const res = await t.call("GET", "/me/completions", { token: session.accessToken });
    assert.deepEqual(await res.json(), { completions: [], nextBefore: null });
  } finally {
    await t.close();
  }
});

Deno.test("[completions] GET /me/completions refuses bad limit and before with 400, no token with 401", async () => {
  const t = await openTestApp();
  try {
    const session = await register(t);
    for (
      const query of [
        "limit=0",
        "limit=101",
        "limit=ten",
        "limit=2.5",
        "before=0",
        "before=-4",
        "before=abc",
        "before=99999999999",
        "limit=1&limit=2",
      ]
    ) {
      const res = await t.call("GET", `/me/completions?${query}`, { token: session.accessToken });
      assert.equal(res.status, 400, query);
      assert.ok(Array.isArray((await problem(res)).errors));
    }
    const anon = await t.call("GET", "/me/completions");
    assert.equal(anon.status, 401);
    await anon.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[completions] history shows each action's current label, retired actions included", async () => {
  const t = await openTestApp();
  try {
    const { slug } = await createAction(t, 4);
    const session = await register(t);
    const made = await (await complete(t, session.accessToken, slug)).json();
    assert.equal(made.completion.actionLabel, `Action ${slug}`);
    const renamed = await t.call("PATCH", `/admin/actions/${slug}`, {
      token: ADMIN_TOKEN,
      body: { label: "Daily check-in" },
    });
    assert.equal(renamed.status, 200);
    await renamed.body?.cancel();
    assert.equal(
      (await t.call("DELETE", `/admin/actions/${slug}`, { token: ADMIN_TOKEN })).status,
      204,
    );

    const list = await (await t.call("GET", "/me/completions", { token: session.accessToken }))
      .json();
    assert.deepEqual(list.completions, [{ ...made.completion, actionLabel: "Daily check-in" }]);
  } finally {
    await t.close();
  }
});
