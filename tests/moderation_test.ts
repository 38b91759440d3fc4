/**
 * Moderation and audit (API.md "Moderation and audit"): finding accounts, suspending and lifting,
 * voiding completions, and the audit trail — run as it is against both ways an instance runs:
 * with Redis, and on PostgreSQL alone. The clock is injected, so that suspensions end and windows
 * turn when a test says so.
 */
import assert from "node:assert/strict";
import { type FakeClock, fakeClock } from "./clock.ts";
import {
  ADMIN_TOKEN,
  complete,
  createAction,
  eventually,
  newUser,
  openTestApp,
  problem,
  register,
  type SessionBody,
  type TestApp,
} from "./helpers.ts";

const MODES: Record<string, Record<string, string>> = {
  "redis": {},
  "postgres only": { REDIS_URL: "" },
};

const admin = { token: ADMIN_TOKEN };

type Entry = { rank: number; accountId: number; totalPoints: number };

/** The entries of a board, as [account, points]. */
async function board(t: TestApp, query = "") {
  const res = await t.call("GET", `/leaderboard?limit=100${query}`);
  assert.equal(res.status, 200);
  const body = await res.json();
  return body.entries.map((e: Entry) => [e.accountId, e.totalPoints]);
}

async function completedId(t: TestApp, session: SessionBody, slug: string): Promise<number> {
  const res = await complete(t, session.accessToken, slug);
  assert.equal(res.status, 201, await res.clone().text());
  return (await res.json()).completion.id;
}

async function json(res: Response, status = 200) {
  assert.equal(res.status, status, await res.clone().text());
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return await res.json();
}

for (const [mode, env] of Object.entries(MODES)) {
  const test = (name: string, fn: (t: TestApp, clock: FakeClock) => Promise<void>) =>
    Deno.test(`[moderation, ${mode}] ${name}`, async () => {
      const clock = fakeClock("2026-12-03T12:00:00.000Z");
      const t = await openTestApp({ COMPLETIONS_PER_SECOND: "1000", ...env }, { clock });
      try {
        await fn(t, clock);
      } finally {
        await t.close();
      }
    });

  test("accounts: found by the start of a username or email, paged newest first; one account", async (t) => {
    const { slug } = await createAction(t, 7);
    const ada = await register(t, {
      ...newUser("mod"),
      username: `Ada-${crypto.randomUUID().slice(0, 6)}`,
    });
    const bob = await register(t, newUser("mod"));
    await completedId(t, ada, slug);
    const found = await json(
      await t.call(
        "GET",
        `/admin/accounts?q=${ada.account.username.slice(0, 6).toLowerCase()}`,
        admin,
      ),
    );
    assert.deepEqual(found.accounts.map((a: { id: number }) => a.id), [ada.account.id]);
    assert.deepEqual(found.accounts[0], {
      id: ada.account.id,
      username: ada.account.username,
      email: ada.account.email,
      createdAt: ada.account.createdAt,
      deletedAt: null,
      suspension: null,
      totalPoints: 7,
      rank: 1,
      sessions: 1,
    });
    const byEmail = await json(
      await t.call(
        "GET",
        `/admin/accounts?q=${encodeURIComponent(bob.account.email.toUpperCase())}`,
        admin,
      ),
    );
    assert.deepEqual(byEmail.accounts.map((a: { id: number }) => a.id), [bob.account.id]);
    // LIKE's wildcards are only characters here.
    assert.deepEqual(
      (await json(await t.call("GET", "/admin/accounts?q=%25", admin))).accounts,
      [],
    );
    const first = await json(await t.call("GET", "/admin/accounts?limit=1", admin));
    assert.deepEqual(first.accounts.map((a: { id: number }) => a.id), [bob.account.id]);
    assert.equal(first.nextBefore, bob.account.id);
    const next = await json(
      await t.call("GET", `/admin/accounts?limit=1&before=${first.nextBefore}`, admin),
    );
    assert.deepEqual(next.accounts.map((a: { id: number }) => a.id), [ada.account.id]);
    const one = await json(await t.call("GET", `/admin/accounts/${bob.account.id}`, admin));
    assert.deepEqual([one.totalPoints, one.rank], [0, null]);
    assert.equal((await t.call("GET", "/admin/accounts/2147483647", admin)).status, 404);
    assert.equal((await t.call("GET", "/admin/accounts?q=", admin)).status, 400);
  });

  test("a suspended account leaves every board, its sessions end, sign-in is 403 with until; lifting brings it all back", async (t) => {
    const { slug } = await createAction(t, 10);
    const user = newUser("cheat");
    const cheat = await register(t, user);
    const honest = await register(t);
    await completedId(t, cheat, slug);
    await completedId(t, cheat, slug);
    await completedId(t, honest, slug);
    const suspended = await json(
      await t.call("POST", `/admin/accounts/${cheat.account.id}/suspension`, {
        ...admin,
        body: { reason: "Scripted completions", until: "2026-12-10T00:00:00.000Z" },
      }),
    );
    assert.deepEqual(suspended.suspension, {
      reason: "Scripted completions",
      since: "2026-12-03T12:00:00.000Z",
      until: "2026-12-10T00:00:00.000Z",
    });
    assert.deepEqual([suspended.totalPoints, suspended.rank, suspended.sessions], [20, null, 0]);

    for (const period of ["", "&period=day", "&period=week", "&period=month"]) {
      assert.deepEqual(await board(t, period), [[honest.account.id, 10]], period);
    }
    assert.equal((await t.call("GET", `/leaderboard/accounts/${cheat.account.id}`)).status, 404);
    assert.equal(
      (await t.call("GET", `/leaderboard/accounts/${cheat.account.id}/around`)).status,
      404,
    );
    const picked = await json(
      await t.call("GET", `/leaderboard/accounts?ids=${cheat.account.id},${honest.account.id}`),
    );
    assert.deepEqual(picked.entries.map((e: Entry) => e.accountId), [honest.account.id]);
    assert.equal((await json(await t.call("GET", "/leaderboard"))).total, 1);

    // Its tokens, refresh token, sign-in and completions.
    assert.equal((await t.call("GET", "/me", { token: cheat.accessToken })).status, 401);
    assert.equal((await complete(t, cheat.accessToken, slug)).status, 401);
    const refreshed = await t.call("POST", "/auth/refresh", {
      body: { refreshToken: cheat.refreshToken },
    });
    assert.equal(refreshed.status, 401);
    const login = await t.call("POST", "/auth/login", { body: user });
    assert.equal(login.status, 403);
    const refused = await problem(login);
    assert.equal(refused.type, "urn:scoreboard:problem:account-suspended");
    assert.equal(refused.until, "2026-12-10T00:00:00.000Z");
    assert.doesNotMatch(JSON.stringify(refused), /Scripted/);
    // A wrong password is the same 401 as ever: the suspension is told to the owner only.
    assert.equal(
      (await t.call("POST", "/auth/login", { body: { ...user, password: "wrong password!" } }))
        .status,
      401,
    );

    // Suspending again replaces the reason and the end.
    const replaced = await json(
      await t.call("POST", `/admin/accounts/${cheat.account.id}/suspension`, {
        ...admin,
        body: { reason: "Until lifted" },
      }),
    );
    assert.deepEqual(replaced.suspension, {
      reason: "Until lifted",
      since: "2026-12-03T12:00:00.000Z",
      until: null,
    });
    const loginAgain = await problem(await t.call("POST", "/auth/login", { body: user }));
    assert.equal(loginAgain.until, null);

    const lifted = await json(
      await t.call("DELETE", `/admin/accounts/${cheat.account.id}/suspension`, admin),
    );
    assert.deepEqual([lifted.suspension, lifted.totalPoints, lifted.rank], [null, 20, 1]);
    assert.deepEqual(await board(t), [[cheat.account.id, 20], [honest.account.id, 10]]);
    assert.deepEqual(await board(t, "&period=week"), [[cheat.account.id, 20], [
      honest.account.id,
      10,
    ]]);
    const back = await json(await t.call("POST", "/auth/login", { body: user }));
    assert.equal((await t.call("GET", "/me", { token: back.accessToken })).status, 200);
    // Lifting what is not there changes nothing.
    const again = await json(
      await t.call("DELETE", `/admin/accounts/${cheat.account.id}/suspension`, admin),
    );
    assert.equal(again.suspension, null);
    assert.equal(
      (await t.call("DELETE", "/admin/accounts/2147483647/suspension", admin)).status,
      404,
    );
  });

  test(
    "a suspension with an end is lifted by the instance once the clock passes it",
    async (t, clock) => {
      const { slug } = await createAction(t, 5);
      const user = newUser("timed");
      const timed = await register(t, user);
      await completedId(t, timed, slug);
      await json(
        await t.call("POST", `/admin/accounts/${timed.account.id}/suspension`, {
          ...admin,
          body: { reason: "Cooling off", until: "2026-12-03T13:00:00.000Z" },
        }),
      );
      assert.deepEqual(await board(t), []);
      clock.set("2026-12-03T12:59:59.999Z");
      await t.rt.moderation.sweep();
      assert.deepEqual(await board(t), []);
      clock.set("2026-12-03T13:00:00.000Z");
      // Every instance looks for ended suspensions every second.
      await eventually(async () => (await board(t)).length === 1, 5000);
      assert.deepEqual(await board(t), [[timed.account.id, 5]]);
      const account = await json(await t.call("GET", `/admin/accounts/${timed.account.id}`, admin));
      assert.equal(account.suspension, null);
      assert.equal((await t.call("POST", "/auth/login", { body: user })).status, 200);
      const trail = await json(
        await t.call("GET", `/admin/audit?target=account:${timed.account.id}`, admin),
      );
      assert.deepEqual(trail.entries.map((e: { action: string }) => e.action), [
        "account.reinstated",
        "account.suspended",
      ]);
      assert.deepEqual(
        [trail.entries[0].detail.by, trail.entries[0].requestId, trail.entries[0].client],
        ["expiry", null, null],
      );
    },
  );

  test("sign-in right after a suspension's end reinstates the account itself", async (t, clock) => {
    const user = newUser("eager");
    const eager = await register(t, user);
    await json(
      await t.call("POST", `/admin/accounts/${eager.account.id}/suspension`, {
        ...admin,
        body: { reason: "Brief", until: "2026-12-03T12:00:01.000Z" },
      }),
    );
    t.rt.moderation.close(); // no sweep: the sign-in alone
    clock.set("2026-12-03T12:00:01.000Z");
    const session = await json(await t.call("POST", "/auth/login", { body: user }));
    assert.equal((await t.call("GET", "/me", { token: session.accessToken })).status, 200);
  });

  test(
    "a void takes the points back from all time and the windows it counted in, past ones too; voidedAt shows everywhere",
    async (t, clock) => {
      const { slug } = await createAction(t, 10);
      const ada = await register(t);
      clock.set("2026-11-25T10:00:00.000Z"); // the week before
      const old = await completedId(t, ada, slug);
      const keyed = await complete(t, ada.accessToken, slug, "key-1");
      assert.equal(keyed.status, 201);
      const keyedId = (await keyed.json()).completion.id;
      clock.set("2026-12-03T12:00:00.000Z");
      await completedId(t, ada, slug);
      assert.deepEqual(await board(t), [[ada.account.id, 30]]);
      assert.deepEqual(await board(t, "&period=week&at=2026-11-25"), [[ada.account.id, 20]]);

      const voided = await json(
        await t.call("POST", `/admin/completions/${old}/void`, {
          ...admin,
          body: { reason: "Duplicate" },
        }),
      );
      assert.equal(voided.completion.id, old);
      assert.equal(voided.completion.voidedAt, "2026-12-03T12:00:00.000Z");
      assert.deepEqual([voided.totalPoints, voided.rank], [20, 1]);
      assert.deepEqual(await board(t), [[ada.account.id, 20]]);
      assert.deepEqual(await board(t, "&period=week&at=2026-11-25"), [[ada.account.id, 10]]);
      assert.deepEqual(await board(t, "&period=month&at=2026-11-25"), [[ada.account.id, 10]]);
      assert.deepEqual(await board(t, "&period=week"), [[ada.account.id, 10]]);

      // The log keeps it, marked; an idempotent replay shows it too.
      const mine = await json(await t.call("GET", "/me/completions", { token: ada.accessToken }));
      const listed = mine.completions.find((c: { id: number }) => c.id === old);
      assert.equal(listed.voidedAt, "2026-12-03T12:00:00.000Z");
      assert.equal(
        mine.completions.filter((c: { voidedAt: string | null }) => c.voidedAt).length,
        1,
      );
      await json(
        await t.call("POST", `/admin/completions/${keyedId}/void`, {
          ...admin,
          body: { reason: "Also" },
        }),
      );
      const replay = await json(await complete(t, ada.accessToken, slug, "key-1"));
      assert.equal(replay.completion.voidedAt, "2026-12-03T12:00:00.000Z");
      assert.equal(replay.totalPoints, 10);
      // The other past window it counted in now has no points for it: it is not ranked there.
      assert.deepEqual(await board(t, "&period=week&at=2026-11-25"), []);
      assert.equal(
        (await t.call("GET", `/leaderboard/accounts/${ada.account.id}?period=week&at=2026-11-25`))
          .status,
        404,
      );

      const adminList = await json(
        await t.call("GET", `/admin/accounts/${ada.account.id}/completions`, admin),
      );
      assert.deepEqual(
        adminList.completions.map((
          c: { id: number; voidedAt: string | null },
        ) => [c.id, !!c.voidedAt]),
        [[adminList.completions[0].id, false], [keyedId, true], [old, true]],
      );
      // The books balance: the ledger is the sum of the completions that stand.
      const [row] = await t.db.sql`
      SELECT (SELECT total_points FROM score_ledger WHERE account_id = ${ada.account.id}) AS total,
             (SELECT sum(points_earned)::int FROM action_log l
              WHERE account_id = ${ada.account.id}
                AND NOT EXISTS (SELECT 1 FROM completion_voids v WHERE v.action_log_id = l.id))
               AS standing`;
      assert.deepEqual([row.total, row.standing], [10, 10]);
    },
  );

  test("voiding twice is 409; a retired action's completion can be voided; unknown is 404", async (t) => {
    const { slug } = await createAction(t, 4);
    const ada = await register(t);
    const id = await completedId(t, ada, slug);
    assert.equal((await t.call("DELETE", `/admin/actions/${slug}`, admin)).status, 204);
    const body = { reason: "Retired anyway" };
    const first = await json(
      await t.call("POST", `/admin/completions/${id}/void`, { ...admin, body }),
    );
    assert.equal(first.completion.action, slug);
    assert.equal(first.totalPoints, 0);
    const second = await t.call("POST", `/admin/completions/${id}/void`, { ...admin, body });
    assert.equal(second.status, 409);
    assert.equal((await problem(second)).type, "urn:scoreboard:problem:already-voided");
    const none = await t.call("POST", "/admin/completions/2147483647/void", { ...admin, body });
    assert.equal(none.status, 404);
    await none.body?.cancel();
    assert.deepEqual(await board(t), []);
  });

  test("a voided completion does not count against its action's rules", async (t) => {
    const res = await t.call("POST", "/admin/actions", {
      ...admin,
      body: { slug: "mod-daily", label: "Daily", pointValue: 3, limit: { count: 1, per: "day" } },
    });
    assert.equal(res.status, 201);
    const ada = await register(t);
    const id = await completedId(t, ada, "mod-daily");
    assert.equal((await complete(t, ada.accessToken, "mod-daily")).status, 409);
    await json(
      await t.call("POST", `/admin/completions/${id}/void`, { ...admin, body: { reason: "x" } }),
    );
    await completedId(t, ada, "mod-daily");
    // Counted again from the log, the void left out: the new one spends the day.
    const again = await complete(t, ada.accessToken, "mod-daily");
    assert.equal(again.status, 409);
    await again.body?.cancel();
  });

  test("every change is in the audit trail, in order, paged and by target; bad bodies are 400", async (t) => {
    const slug = `audit-${crypto.randomUUID().slice(0, 6)}`;
    await json(
      await t.call("POST", "/admin/actions", {
        ...admin,
        body: { slug, label: "Audited", pointValue: 2 },
      }),
      201,
    );
    await json(
      await t.call("PATCH", `/admin/actions/${slug}`, {
        ...admin,
        body: { limit: { count: 1, per: "week" } },
      }),
    );
    const ada = await register(t);
    const id = await completedId(t, ada, slug);
    await json(
      await t.call("POST", `/admin/completions/${id}/void`, { ...admin, body: { reason: "v" } }),
    );
    await json(
      await t.call("POST", `/admin/accounts/${ada.account.id}/suspension`, {
        ...admin,
        body: { reason: "s" },
      }),
    );
    await json(await t.call("DELETE", `/admin/accounts/${ada.account.id}/suspension`, admin));
    assert.equal((await t.call("DELETE", `/admin/actions/${slug}`, admin)).status, 204);
    assert.equal((await t.call("DELETE", `/admin/actions/${slug}`, admin)).status, 204); // no entry

    const all = await json(await t.call("GET", "/admin/audit", admin));
    assert.deepEqual(
      all.entries.map((e: { action: string; target: string }) => [e.action, e.target]),
      [
        ["action.retired", `action:${slug}`],
        ["account.reinstated", `account:${ada.account.id}`],
        ["account.suspended", `account:${ada.account.id}`],
        ["completion.voided", `completion:${id}`],
        ["action.updated", `action:${slug}`],
        ["action.created", `action:${slug}`],
      ],
    );
    const created = all.entries[5];
    assert.deepEqual(created.detail, {
      label: "Audited",
      pointValue: 2,
      limit: null,
      cooldownSeconds: null,
    });
    assert.match(created.requestId, /^[\w-]{8,}$/);
    assert.equal(typeof created.client, "string");
    assert.deepEqual(all.entries[3].detail.reason, "v");
    assert.deepEqual(all.entries[2].detail.reason, "s");
    assert.deepEqual(Object.keys(created).sort(), [
      "action",
      "at",
      "client",
      "detail",
      "id",
      "requestId",
      "target",
    ]);

    const first = await json(await t.call("GET", "/admin/audit?limit=2", admin));
    assert.deepEqual(
      first.entries.map((e: { id: number }) => e.id),
      all.entries.slice(0, 2).map((e: { id: number }) => e.id),
    );
    const rest = await json(
      await t.call("GET", `/admin/audit?limit=100&before=${first.nextBefore}`, admin),
    );
    assert.deepEqual(
      rest.entries.map((e: { id: number }) => e.id),
      all.entries.slice(2).map((e: { id: number }) => e.id),
    );
    assert.equal(rest.nextBefore, null);
    const ofAction = await json(await t.call("GET", `/admin/audit?target=action:${slug}`, admin));
    assert.equal(ofAction.entries.length, 3);
    assert.equal((await t.call("GET", "/admin/audit?target=nobody", admin)).status, 400);

    for (
      const [path, body] of [
        [`/admin/accounts/${ada.account.id}/suspension`, { reason: "" }],
        [`/admin/accounts/${ada.account.id}/suspension`, { reason: "x".repeat(501) }],
        [`/admin/accounts/${ada.account.id}/suspension`, {
          reason: "ok",
          until: "2026-12-03T11:00:00.000Z",
        }],
        [`/admin/accounts/${ada.account.id}/suspension`, { reason: "ok", until: "tomorrow" }],
        [`/admin/accounts/${ada.account.id}/suspension`, {}],
        [`/admin/completions/${id}/void`, { reason: "   " }],
        [`/admin/completions/${id}/void`, { reason: 5 }],
      ] as const
    ) {
      const res = await t.call("POST", path, { ...admin, body });
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
      assert.equal((await problem(res)).type, "urn:scoreboard:problem:validation-error");
    }
    // Nothing of that changed anything.
    assert.equal((await json(await t.call("GET", "/admin/audit", admin))).entries.length, 6);
  });

  test("every moderation route is 403 without the operator token", async (t) => {
    const ada = await register(t);
    for (
      const [method, path] of [
        ["GET", "/admin/accounts"],
        ["GET", `/admin/accounts/${ada.account.id}`],
        ["GET", `/admin/accounts/${ada.account.id}/completions`],
        ["POST", `/admin/accounts/${ada.account.id}/suspension`],
        ["DELETE", `/admin/accounts/${ada.account.id}/suspension`],
        ["POST", "/admin/completions/1/void"],
        ["GET", "/admin/audit"],
      ]
    ) {
      for (const token of [undefined, ada.accessToken, "not-the-token"]) {
        const res = await t.call(method, path, {
          token,
          body: method === "POST" ? { reason: "x" } : undefined,
        });
        assert.equal(res.status, 403, `${method} ${path}`);
        assert.equal((await problem(res)).type, "urn:scoreboard:problem:not-an-operator");
      }
    }
  });
}
