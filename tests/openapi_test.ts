import assert from "node:assert/strict";
import { Validator } from "@seriousme/openapi-schema-validator";
import { createApp } from "../src/app.ts";
import { Contract, recording } from "./contract.ts";
import {
  ADMIN_TOKEN,
  complete,
  createAction,
  newUser,
  openTestApp,
  register,
  type TestApp,
} from "./helpers.ts";
import { readStream } from "./sse.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const METHODS = ["get", "put", "post", "delete", "patch", "head"];

/** The page's script and style: served for the page, left out of the document on purpose. */
const PAGE_ASSETS = [
  "/app.css",
  "/app.js",
  "/board.js",
  "/format.js",
  "/sse.js",
  "/stream.js",
  "/admin/",
  "/admin/console.js",
  "/admin/console.css",
];

async function documentOf(t: Pick<TestApp, "call">): Promise<Json> {
  const res = await t.call("GET", "/openapi.json");
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/json");
  return await res.json();
}

/** `[method, path, operation]` of every operation of `doc`. */
function operations(doc: Json): [string, string, Json][] {
  return Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m): [string, string, Json] => [m, path, item[m]])
  );
}

Deno.test("[openapi] GET /openapi.json is a valid OpenAPI 3.1 document, the same bytes each time", async () => {
  const t = await openTestApp();
  try {
    const first = await (await t.call("GET", "/openapi.json")).text();
    const second = await (await t.call("GET", "/openapi.json")).text();
    assert.equal(first, second);
    const doc = JSON.parse(first);
    assert.equal(doc.openapi, "3.1.0");
    const result = await new Validator().validate(doc);
    assert.deepEqual(result, { valid: true }, JSON.stringify(result.errors, null, 2));
    // Every schema compiles as JSON Schema 2020-12 with ajv's strict mode.
    new Contract(doc).compileAll();
  } finally {
    await t.close();
  }
});

Deno.test("[openapi] the document says who may call what and what every refusal carries", async () => {
  const t = await openTestApp();
  try {
    const doc = await documentOf(t);
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), [
      "accessToken",
      "metricsToken",
      "operatorToken",
    ]);
    assert.deepEqual(doc.servers, [{
      url: "/",
      description: "The origin that serves this document.",
    }]);
    assert.equal(doc.components.securitySchemes.accessToken.bearerFormat, "JWT");
    for (const [method, path, op] of operations(doc)) {
      const where = `${method} ${path}`;
      const schemes = (op.security ?? []).flatMap((s: Json) => Object.keys(s));
      assert.ok(Array.isArray(op.security), `${where}: security, [] when public`);
      assert.match(op.operationId, /^[a-z][A-Za-z]+$/, where);
      if (path === "/admin") assert.deepEqual(schemes, [], where); // the way to the console
      else if (path.startsWith("/admin")) assert.deepEqual(schemes, ["operatorToken"], where);
      else if (/^\/me(\/|$)/.test(path) || path.endsWith("/complete")) {
        assert.deepEqual(schemes, ["accessToken"], where);
      } else if (path === "/metrics") {
        // Public, or with METRICS_TOKEN set, behind it.
        assert.deepEqual(op.security, [{}, { metricsToken: [] }], where);
      } else assert.deepEqual(schemes, [], where);
      // The door's answers, on every operation.
      for (const status of ["400", "408", "413", "414", "431"]) {
        assert.ok(op.responses[status], `${where} ${status}`);
      }
      for (const [status, listed] of Object.entries<Json>(op.responses)) {
        const response = listed.$ref === undefined
          ? listed
          : doc.components.responses[listed.$ref.replace("#/components/responses/", "")];
        const types: string[] = response["x-problem-types"] ?? [];
        if (status === "401" && types.includes("urn:scoreboard:problem:unauthorized")) {
          assert.ok(response.headers?.["WWW-Authenticate"], `${where} ${status}`);
        }
        if (status === "429" || (status === "503" && method !== "head")) {
          assert.equal(response.headers?.["Retry-After"]?.required, true, `${where} ${status}`);
        }
        if (Number(status) >= 400 && method !== "head") {
          assert.deepEqual(Object.keys(response.content), ["application/problem+json"], where);
          // Problem, or a problem with members of its own (every member of Problem's kept).
          const ref = response.content["application/problem+json"].schema.$ref;
          const schema = doc.components.schemas[ref.replace("#/components/schemas/", "")];
          const base = doc.components.schemas.Problem;
          for (const name of Object.keys(base.properties)) {
            assert.deepEqual(schema.properties[name], base.properties[name], `${where}: ${name}`);
          }
          assert.deepEqual(
            base.required.filter((name: string) => !schema.required.includes(name)),
            [],
            where,
          );
        }
      }
    }
    const stream = doc.paths["/leaderboard/stream"].get.responses["200"].content;
    assert.deepEqual(Object.keys(stream), ["text/event-stream"]);
    assert.equal(
      stream["text/event-stream"]["x-events"].leaderboard.data.$ref,
      "#/components/schemas/BoardPage",
    );
    const created = doc.paths["/admin/actions"].post.responses["201"];
    assert.equal(created.headers.Location.required, true);
  } finally {
    await t.close();
  }
});

Deno.test("[openapi] every route the app serves is in the document, and only those", async () => {
  const t = await openTestApp();
  try {
    const doc = await documentOf(t);
    const served = new Set(
      createApp(t.rt).routes
        .filter((route) => route.method !== "ALL" && !PAGE_ASSETS.includes(route.path))
        .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    const documented = new Set(
      operations(doc)
        .filter(([method]) => method !== "head")
        .map(([method, path]) => `${method.toUpperCase()} ${path}`),
    );
    assert.deepEqual([...served].sort(), [...documented].sort());
  } finally {
    await t.close();
  }
});

Deno.test("[openapi] the main journeys answer exactly what the document says", async (test) => {
  const t = await openTestApp({ LOGIN_MAX_FAILURES_PER_EMAIL: "2", SSE_MAX_CLIENTS: "1" });
  const api = recording(t);
  const contract = new Contract(await documentOf(t));
  const admin = { token: ADMIN_TOKEN };
  const expect = async (res: Response, status: number) => {
    assert.equal(res.status, status, await res.clone().text());
    await res.body?.cancel();
  };
  try {
    await test.step("operations and public reads", async () => {
      for (const path of ["/healthz", "/readyz", "/metrics", "/openapi.json", "/", "/actions"]) {
        await expect(await api.call("GET", path), 200);
      }
      await expect(await api.call("GET", "/admin"), 301);
      await expect(await api.call("HEAD", "/leaderboard/stream"), 200);
      await expect(await api.call("HEAD", "/leaderboard/stream?period=year"), 400);
    });

    const ada = await register(api, newUser("ada"));
    const bob = await register(api, newUser("bob"));
    await test.step("registration and its refusals", async () => {
      const taken = newUser("ada");
      await expect(
        await api.call("POST", "/auth/register", {
          body: { ...taken, username: ada.account.username.toUpperCase() },
        }),
        409,
      );
      await expect(
        await api.call("POST", "/auth/register", { body: { ...taken, email: ada.account.email } }),
        409,
      );
      await expect(
        await api.call("POST", "/auth/register", { body: { username: "x", email: "no" } }),
        400,
      );
      await expect(await api.call("POST", "/auth/register", { body: '{"username":' }), 400);
      await expect(
        await api.call("POST", "/auth/register", {
          body: "username=ada",
          headers: { "content-type": "text/plain" },
        }),
        415,
      );
      await expect(
        await api.call("POST", "/auth/register", { body: { pad: "x".repeat(17 * 1024) } }),
        413,
      );
    });

    await test.step("sign-in, refresh, sign-out", async () => {
      const user = newUser("cy");
      await register(api, user);
      const login = await api.call("POST", "/auth/login", { body: user });
      assert.equal(login.status, 200);
      const session = await login.json();
      await expect(
        await api.call("POST", "/auth/login", { body: { ...user, password: "wrong password" } }),
        401,
      );
      await expect(await api.call("POST", "/auth/login", { body: { email: 1 } }), 400);
      const limited = newUser("dee");
      for (const status of [401, 401, 429]) {
        await expect(await api.call("POST", "/auth/login", { body: limited }), status);
      }
      const refreshed = await api.call("POST", "/auth/refresh", {
        body: { refreshToken: session.refreshToken },
      });
      assert.equal(refreshed.status, 200);
      const pair = await refreshed.json();
      await expect(await api.call("POST", "/auth/refresh", { body: { refreshToken: "x" } }), 401);
      await expect(await api.call("POST", "/auth/refresh", { body: {} }), 400);
      await expect(
        await api.call("POST", "/auth/logout", { body: { refreshToken: pair.refreshToken } }),
        204,
      );
      await expect(
        await api.call("POST", "/auth/logout", { body: { refreshToken: pair.refreshToken } }),
        204,
      );
      await expect(await api.call("POST", "/auth/logout", { body: [] }), 400);
      await expect(
        await api.call("POST", "/auth/refresh", { body: { refreshToken: pair.refreshToken } }),
        401,
      );
    });

    await test.step("the account, its sessions and its password", async () => {
      await expect(await api.call("GET", "/me", { token: ada.accessToken }), 200);
      await expect(await api.call("GET", "/me"), 401);
      await expect(await api.call("GET", "/me", { token: "not.a.jwt" }), 401);
      const list = await api.call("GET", "/me/sessions", { token: ada.accessToken });
      assert.equal(list.status, 200);
      const { sessions } = await list.json();
      await expect(await api.call("DELETE", "/me/sessions/2147483647", admin), 401);
      await expect(
        await api.call("DELETE", "/me/sessions/2147483647", { token: ada.accessToken }),
        404,
      );
      await expect(await api.call("DELETE", "/me/sessions/abc", { token: ada.accessToken }), 400);
      const user = newUser("eve");
      const eve = await register(api, user);
      const other = await (await api.call("POST", "/auth/login", { body: user })).json();
      const [, older] = (await (await api.call("GET", "/me/sessions", {
        token: eve.accessToken,
      })).json()).sessions;
      await expect(
        await api.call("DELETE", `/me/sessions/${older.id}`, { token: other.accessToken }),
        204,
      );
      await expect(await api.call("DELETE", "/me/sessions", { token: other.accessToken }), 204);
      await expect(await api.call("DELETE", "/me/sessions", { token: other.accessToken }), 401);
      assert.equal(sessions.length, 1);

      const fay = newUser("fay");
      const session = await register(api, fay);
      const change = (body: unknown) =>
        api.call("PUT", "/me/password", { token: session.accessToken, body });
      await expect(
        await change({ currentPassword: "wrong password", newPassword: "a".repeat(9) }),
        401,
      );
      await expect(await change({ currentPassword: fay.password, newPassword: "short" }), 400);
      await expect(
        await change({ currentPassword: fay.password, newPassword: "b".repeat(12) }),
        204,
      );
      await expect(await api.call("PUT", "/me/password", { body: {} }), 401);
      await expect(
        await api.call("PUT", "/me/password", {
          token: session.accessToken,
          body: "x",
          headers: { "content-type": "text/plain" },
        }),
        415,
      );
    });

    const points = await createAction(api, 5);
    const bonus = await createAction(api, 1000);
    await test.step("the operator's catalogue", async () => {
      const body = { slug: "openapi-spare", label: "Spare", pointValue: 3 };
      await expect(await api.call("POST", "/admin/actions", { body }), 403);
      await expect(await api.call("POST", "/admin/actions", { ...admin, body }), 201);
      await expect(await api.call("POST", "/admin/actions", { ...admin, body }), 409);
      await expect(
        await api.call("POST", "/admin/actions", { ...admin, body: { ...body, slug: "No" } }),
        400,
      );
      await expect(await api.call("GET", "/admin/actions", admin), 200);
      await expect(await api.call("GET", "/admin/actions", { token: ada.accessToken }), 403);
      const path = `/admin/actions/${body.slug}`;
      await expect(await api.call("PATCH", path, { ...admin, body: { label: "Spare one" } }), 200);
      await expect(await api.call("PATCH", path, { ...admin, body: {} }), 400);
      await expect(
        await api.call("PATCH", "/admin/actions/openapi-none", {
          ...admin,
          body: { pointValue: 2 },
        }),
        404,
      );
      await expect(await api.call("DELETE", path, admin), 204);
      await expect(await api.call("DELETE", path, admin), 204);
      await expect(await api.call("DELETE", "/admin/actions/openapi-none", admin), 404);
      await expect(await complete(api, ada.accessToken, body.slug), 410);
    });

    await test.step("completions, keys and limits", async () => {
      await expect(await complete(api, ada.accessToken, points.slug), 201);
      await expect(await complete(api, ada.accessToken, points.slug, "key-1"), 201);
      await expect(await complete(api, ada.accessToken, points.slug, "key-1"), 200);
      await expect(await complete(api, ada.accessToken, bonus.slug, "key-1"), 422);
      await expect(await complete(api, ada.accessToken, points.slug, ""), 400);
      await expect(await complete(api, ada.accessToken, "openapi-none"), 404);
      await expect(await complete(api, ada.accessToken, "Not_A_Slug"), 404);
      await expect(await complete(api, "bad-token", points.slug), 401);
      await expect(await complete(api, bob.accessToken, bonus.slug), 201);

      const rich = await register(api, newUser("rich"));
      await expect(await complete(api, rich.accessToken, points.slug), 201);
      await t.db.sql`
        UPDATE score_ledger SET total_points = 2147483000 WHERE account_id = ${rich.account.id}`;
      await expect(await complete(api, rich.accessToken, bonus.slug), 409);

      const busy = await register(api, newUser("busy"));
      const burst = await Promise.all(
        Array.from({ length: 20 }, () => complete(api, busy.accessToken, points.slug)),
      );
      const statuses = burst.map((res) => res.status);
      await Promise.all(burst.map((res) => res.body?.cancel()));
      assert.ok(statuses.includes(429), String(statuses));

      const page = await api.call("GET", "/me/completions?limit=1", { token: ada.accessToken });
      assert.equal(page.status, 200);
      const { nextBefore } = await page.json();
      assert.ok(nextBefore);
      await expect(
        await api.call("GET", `/me/completions?before=${nextBefore}`, { token: ada.accessToken }),
        200,
      );
      await expect(
        await api.call("GET", "/me/completions?limit=0", { token: ada.accessToken }),
        400,
      );
      await expect(await api.call("GET", "/me/completions"), 401);
    });

    await test.step("moderation and the audit trail", async () => {
      const user = newUser("mod");
      const mod = await register(api, user);
      const done = await complete(api, mod.accessToken, points.slug);
      assert.equal(done.status, 201);
      const { completion } = await done.json();
      await expect(await api.call("GET", "/admin/accounts?q=mod", admin), 200);
      await expect(await api.call("GET", "/admin/accounts?limit=0", admin), 400);
      await expect(await api.call("GET", "/admin/accounts"), 403);
      await expect(await api.call("GET", `/admin/accounts/${mod.account.id}`, admin), 200);
      await expect(await api.call("GET", "/admin/accounts/2147483647", admin), 404);
      await expect(
        await api.call("GET", `/admin/accounts/${mod.account.id}/completions`, admin),
        200,
      );
      await expect(await api.call("GET", "/admin/accounts/2147483647/completions", admin), 404);
      const void_ = (body: unknown) =>
        api.call("POST", `/admin/completions/${completion.id}/void`, { ...admin, body });
      await expect(await void_({ reason: "" }), 400);
      await expect(await void_({ reason: "test" }), 200);
      await expect(await void_({ reason: "test" }), 409);
      await expect(
        await api.call("POST", "/admin/completions/2147483647/void", {
          ...admin,
          body: { reason: "x" },
        }),
        404,
      );
      const suspension = `/admin/accounts/${mod.account.id}/suspension`;
      await expect(await api.call("POST", suspension, { ...admin, body: { reason: "" } }), 400);
      await expect(await api.call("POST", suspension, { ...admin, body: { reason: "x" } }), 200);
      await expect(
        await api.call("POST", "/admin/accounts/2147483647/suspension", {
          ...admin,
          body: { reason: "x" },
        }),
        404,
      );
      await expect(await api.call("POST", "/auth/login", { body: user }), 403);
      await expect(await api.call("DELETE", suspension, admin), 200);
      await expect(await api.call("DELETE", "/admin/accounts/2147483647/suspension", admin), 404);
      await expect(await api.call("GET", "/admin/audit?limit=2", admin), 200);
      await expect(await api.call("GET", "/admin/audit?target=x", admin), 400);
      await expect(await api.call("GET", "/admin/audit"), 403);
    });

    await test.step("rules and where the caller stands", async () => {
      const daily = { slug: "openapi-daily", label: "Daily", pointValue: 2 };
      await expect(
        await api.call("POST", "/admin/actions", {
          ...admin,
          body: { ...daily, limit: { count: 1, per: "day" }, cooldownSeconds: 60 },
        }),
        201,
      );
      await expect(
        await api.call("POST", "/admin/actions", {
          ...admin,
          body: { ...daily, slug: "openapi-bad", limit: { count: 0, per: "year" } },
        }),
        400,
      );
      await expect(await complete(api, ada.accessToken, daily.slug), 201);
      await expect(await complete(api, ada.accessToken, daily.slug), 409);
      await expect(
        await api.call("PATCH", `/admin/actions/${daily.slug}`, {
          ...admin,
          body: { limit: { count: 1, per: "ever" }, cooldownSeconds: null },
        }),
        200,
      );
      await expect(await complete(api, ada.accessToken, daily.slug), 409);
      await expect(await api.call("GET", "/me/actions", { token: ada.accessToken }), 200);
      await expect(await api.call("GET", "/me/actions"), 401);
    });

    await test.step("the boards", async () => {
      const id = ada.account.id;
      const today = new Date().toISOString().slice(0, 10);
      for (
        const path of [
          "/leaderboard",
          "/leaderboard?period=day",
          `/leaderboard?period=week&at=${today}`,
          "/leaderboard?period=month&limit=1&offset=1",
          `/leaderboard/accounts/${id}`,
          `/leaderboard/accounts/${id}?period=day`,
          `/leaderboard/accounts/${id}/around?radius=1`,
          `/leaderboard/accounts/${id}/around?period=week`,
          `/leaderboard/accounts?ids=${id},${bob.account.id},2147483647`,
          `/leaderboard/accounts?ids=${id}&period=month&at=${today}`,
        ]
      ) {
        await expect(await api.call("GET", path), 200);
      }
      for (
        const path of [
          "/leaderboard?period=year",
          "/leaderboard?at=2999-01-01",
          "/leaderboard?limit=101",
          "/leaderboard/accounts/abc",
          "/leaderboard/accounts/1/around?radius=0",
          "/leaderboard/accounts?ids=",
          "/leaderboard/accounts?ids=1,x",
        ]
      ) {
        await expect(await api.call("GET", path), 400);
      }
      await expect(await api.call("GET", "/leaderboard/accounts/2147483647"), 404);
      await expect(await api.call("GET", "/leaderboard/accounts/2147483647/around"), 404);
    });

    await test.step("the stream", async () => {
      const res = await api.call("GET", "/leaderboard/stream?period=week");
      assert.equal(res.status, 200);
      const stream = await readStream(res);
      try {
        const event = await stream.next();
        assert.equal(event.event, "leaderboard");
        const media = contract.operation("GET", "/leaderboard/stream").op.responses["200"]
          .content["text/event-stream"];
        const validate = contract.validator(media["x-events"].leaderboard.data);
        const data = JSON.parse(event.data);
        assert.equal(data.period, "week");
        const valid = validate(data);
        assert.ok(valid, JSON.stringify(validate.errors));
        // SSE_MAX_CLIENTS is 1: a second stream is refused.
        await expect(await api.call("GET", "/leaderboard/stream"), 503);
      } finally {
        await stream.close();
      }
      await expect(await api.call("GET", "/leaderboard/stream?period=year"), 400);
    });

    await test.step("deleting an account", async () => {
      await expect(await api.call("DELETE", "/me", { token: bob.accessToken }), 204);
      await expect(await api.call("DELETE", "/me", { token: bob.accessToken }), 401);
      await expect(await api.call("GET", `/leaderboard/accounts/${bob.account.id}`), 404);
    });

    await test.step("every response matched the document, and every operation was reached", () => {
      const wrong = api.exchanges.flatMap((exchange) => contract.check(exchange));
      assert.deepEqual(wrong, []);
      assert.ok(api.exchanges.every((exchange) => exchange.status !== 500));
      const operationsOf = operations(contract.doc).map(([method, path]) =>
        `${method.toUpperCase()} ${path}`
      );
      const missed = operationsOf.filter((op) => !contract.reached.has(op));
      assert.deepEqual(missed, []);
    });
  } finally {
    await t.close();
  }
});

Deno.test("[openapi] /openapi.json is readable cross-origin with CORS_ORIGINS; without ADMIN_TOKEN /admin is 403 as documented", async () => {
  const t = await openTestApp({ CORS_ORIGINS: "https://example.com", ADMIN_TOKEN: "" });
  const api = recording(t);
  try {
    const doc = await api.call("GET", "/openapi.json", {
      headers: { origin: "https://example.com" },
    });
    assert.equal(doc.status, 200);
    assert.equal(doc.headers.get("access-control-allow-origin"), "https://example.com");
    assert.equal(doc.headers.get("cache-control"), "no-store");
    const contract = new Contract(await doc.json());
    const refused = await api.call("GET", "/admin/actions", { token: ADMIN_TOKEN });
    assert.equal(refused.status, 403);
    const body = await refused.json();
    assert.equal(body.type, "urn:scoreboard:problem:operator-routes-disabled");
    assert.deepEqual(api.exchanges.flatMap((exchange) => contract.check(exchange)), []);
  } finally {
    await t.close();
  }
});
