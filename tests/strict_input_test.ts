/**
 * Strict input at the door (API.md "Conventions"), over the real server — raw sockets where
 * `fetch` cannot send the request — for each HTTP server (Deno.serve, node:http) and each way an
 * instance runs (with Redis, on PostgreSQL alone): bodies that are not UTF-8 or hold a lone
 * surrogate, a body that stops halfway, headers and URLs past the limits, methods a path does not
 * have, and bodies on routes that take none.
 */
import assert from "node:assert/strict";
import {
  ADMIN_TOKEN,
  createTestDatabase,
  httpClient,
  newUser,
  randomPrefix,
  register,
  testEnv,
} from "./helpers.ts";
import { head, rawExchange, type RawResponse } from "./raw_http.ts";
import { startServer, type TestServer } from "./server.ts";

const MODES: Record<string, Record<string, string>> = {
  "redis": {},
  "postgres only": { REDIS_URL: "" },
};

/** A problem response's body. */
function problemOf(res: RawResponse | null): Record<string, unknown> {
  assert.ok(res, "an answer");
  assert.equal(res.headers.get("content-type"), "application/problem+json", res.raw.slice(0, 300));
  return JSON.parse(res.body);
}

const INVALID_UTF8 = new Uint8Array([
  ...new TextEncoder().encode('{"username":"ada'),
  0xff,
  0xfe,
  ...new TextEncoder().encode('","email":"x@example.com","password":"long enough"}'),
]);
const LONE_SURROGATE =
  '{"username":"ada\\ud800x","email":"y@example.com","password":"long enough"}';

/** Every route that takes a body, with what it needs to get that far. */
const BODY_ROUTES: [string, string, Record<string, string>][] = [
  ["POST", "/auth/register", {}],
  ["POST", "/auth/login", {}],
  ["POST", "/auth/refresh", {}],
  ["POST", "/auth/logout", {}],
  ["PUT", "/me/password", {}],
  ["POST", "/admin/actions", { authorization: `Bearer ${ADMIN_TOKEN}` }],
  ["PATCH", "/admin/actions/some-action", { authorization: `Bearer ${ADMIN_TOKEN}` }],
  ["POST", "/admin/accounts/1/suspension", { authorization: `Bearer ${ADMIN_TOKEN}` }],
  ["POST", "/admin/completions/1/void", { authorization: `Bearer ${ADMIN_TOKEN}` }],
];

for (const httpServer of ["deno", "node"]) {
  for (const [mode, modeEnv] of Object.entries(MODES)) {
    Deno.test(`[strict input, ${httpServer}, ${mode}] refused at the door, as problems; nothing changed`, async (t) => {
      const db = await createTestDatabase();
      const server: TestServer = await startServer(testEnv(db, randomPrefix(), {
        ...modeEnv,
        HTTP_SERVER: httpServer,
        REQUEST_TIMEOUT_MS: "400",
      }));
      const send = (parts: (string | Uint8Array | number)[]) => rawExchange(server.port, parts);
      try {
        await t.step(
          "a body that is not UTF-8, or JSON with a lone surrogate: 400 on every route that takes one",
          async () => {
            for (const [method, path, headers] of BODY_ROUTES) {
              for (const body of [INVALID_UTF8, new TextEncoder().encode(LONE_SURROGATE)]) {
                const res = await send([
                  head(method, path, {
                    ...headers,
                    "content-type": "application/json",
                    "content-length": body.length,
                  }),
                  body,
                ]);
                assert.equal(res?.status, 400, `${method} ${path}: ${res?.raw.slice(0, 300)}`);
                const problem = problemOf(res);
                assert.equal(problem.type, "urn:scoreboard:problem:validation-error");
                assert.match(JSON.stringify(problem.errors), /UTF-8|lone surrogate/);
              }
            }
            const [{ count }] = await db.sql`
            SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM actions) AS count`;
            assert.equal(Number(count), 0, "nothing stored, no U+FFFD");
          },
        );

        await t.step("a body that stops halfway: 408 when the time is up, not a 5xx", async () => {
          const res = await send([
            head("POST", "/auth/register", {
              "content-type": "application/json",
              "content-length": 100,
            }),
            '{"username":',
            2000,
          ]);
          assert.equal(res?.status, 408);
          assert.equal(problemOf(res).type, "urn:scoreboard:problem:request-timeout");
          const metrics = await (await fetch(`${server.url}/metrics`)).text();
          const statuses = [
            ...metrics.matchAll(/^scoreboard_http_requests_total\{[^}]*status="(\d+)"/gm),
          ]
            .map((match) => match[1]);
          assert.ok(statuses.includes("408"), "counted as a 408");
          assert.ok(!statuses.some((status) => status.startsWith("5")), `no 5xx: ${statuses}`);
          const ready = await fetch(`${server.url}/readyz`);
          assert.equal(ready.status, 200, "the service is fine");
          await ready.body?.cancel();
        });

        await t.step("headers past 16 KiB: 431; a URL past 8 KiB: 414; as problems", async () => {
          const big = await send([head("GET", "/actions", { "x-filler": "a".repeat(20_000) })]);
          assert.equal(big?.status, 431);
          assert.equal(problemOf(big).type, "urn:scoreboard:problem:headers-too-large");
          const long = await send([head("GET", `/actions?${"q".repeat(9_000)}`)]);
          assert.equal(long?.status, 414);
          assert.equal(problemOf(long).type, "urn:scoreboard:problem:uri-too-long");
          // Past what the HTTP server itself reads (64 KiB): node:http still answers a problem;
          // Deno.serve answers a bare 400 before the app sees the request (docs/api.md).
          const huge = await send([head("GET", "/actions", { "x-filler": "a".repeat(100_000) })]);
          if (httpServer === "node") {
            assert.equal(huge?.status, 431);
            assert.equal(problemOf(huge).status, 431);
          } else assert.equal(huge?.status, 400);
          const healthy = await fetch(`${server.url}/healthz`);
          assert.equal(healthy.status, 200);
          await healthy.body?.cancel();
        });

        await t.step("a percent-escape that is not UTF-8: 400", async () => {
          for (const target of ["/leaderboard/accounts?ids=%FF", "/actions/%ED%A0%80/complete"]) {
            const res = await fetch(`${server.url}${target}`, {
              method: target.endsWith("complete") ? "POST" : "GET",
            });
            assert.equal(res.status, 400, target);
            assert.equal((await res.json()).type, "urn:scoreboard:problem:validation-error");
          }
        });

        await t.step("a method a path does not have: 405 with Allow; no path: 404", async () => {
          const cases: [string, string, string][] = [
            ["PATCH", "/leaderboard", "GET, HEAD"],
            ["DELETE", "/auth/login", "POST"],
            ["PUT", "/me", "DELETE, GET, HEAD"],
            ["POST", "/admin/actions/x", "DELETE, PATCH"],
          ];
          for (const [method, path, allow] of cases) {
            // Under /admin the operator guard comes first: without the token, 403 whatever the path.
            const headers = path.startsWith("/admin")
              ? { authorization: `Bearer ${ADMIN_TOKEN}` }
              : undefined;
            const res = await fetch(`${server.url}${path}`, { method, headers });
            assert.equal(res.status, 405, `${method} ${path}`);
            assert.equal(res.headers.get("allow"), allow, `${method} ${path}`);
            assert.equal(res.headers.get("content-type"), "application/problem+json");
            await res.body?.cancel();
          }
          const purge = await send([head("PURGE", "/actions")]);
          assert.equal(purge?.status, 405);
          assert.equal(purge?.headers.get("allow"), "GET, HEAD");
          // A method of no RFC: Deno.serve hands it to the app (405); node's parser refuses it
          // first, and the answer is RFC 9110's for a method the server does not know (501).
          const brew = await send([head("BREW", "/actions")]);
          assert.equal(brew?.status, httpServer === "node" ? 501 : 405);
          assert.equal(problemOf(brew).status, brew?.status);
          const none = await fetch(`${server.url}/no/such/route`, { method: "PATCH" });
          assert.equal(none.status, 404);
          await none.body?.cancel();
        });

        await t.step(
          "a body on a route that takes none: ignored within 16 KiB, 413 past it",
          async () => {
            const small = "some text, not JSON";
            for (let i = 0; i < 2; i++) { // the second is the response cache's
              const res = await send([
                head("GET", "/leaderboard", {
                  "content-type": "text/plain",
                  "content-length": small.length,
                }),
                small,
              ]);
              assert.equal(res?.status, 200, res?.raw.slice(0, 300));
            }
            const announced = await send([
              head("GET", "/leaderboard", { "content-length": 10 * 1024 * 1024 }),
            ]);
            assert.equal(announced?.status, 413);
            assert.equal(problemOf(announced).type, "urn:scoreboard:problem:body-too-large");
            const chunk = "a".repeat(8 * 1024);
            const streamed = await send([
              head("GET", "/leaderboard", { "transfer-encoding": "chunked" }),
              ...[1, 2, 3].map(() => `${chunk.length.toString(16)}\r\n${chunk}\r\n`),
              "0\r\n\r\n",
            ]);
            // node:http hands a GET's body to the app; Deno.serve drops it unread (docs/api.md).
            assert.equal(streamed?.status, httpServer === "node" ? 413 : 200);

            const api = httpClient(server.url);
            const session = await register(api, newUser("door"));
            const slug = `door-${crypto.randomUUID().slice(0, 6)}`;
            const created = await fetch(`${server.url}/admin/actions`, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                authorization: `Bearer ${ADMIN_TOKEN}`,
              },
              body: JSON.stringify({ slug, label: "Door", pointValue: 3 }),
            });
            assert.equal(created.status, 201);
            await created.body?.cancel();
            const completed = await fetch(`${server.url}/actions/${slug}/complete`, {
              method: "POST",
              headers: {
                "content-type": "text/plain",
                authorization: `Bearer ${session.accessToken}`,
              },
              body: "ignored",
            });
            assert.equal(completed.status, 201, await completed.clone().text());
            await completed.body?.cancel();
            const tooBig = await fetch(`${server.url}/actions/${slug}/complete`, {
              method: "POST",
              headers: {
                "content-type": "text/plain",
                authorization: `Bearer ${session.accessToken}`,
              },
              body: "x".repeat(17 * 1024),
            });
            assert.equal(tooBig.status, 413);
            await tooBig.body?.cancel();
            const [{ count }] = await db.sql`SELECT count(*)::int AS count FROM action_log`;
            assert.equal(count, 1, "the refused completion changed nothing");
          },
        );
      } finally {
        await server.stop();
        await db.drop();
      }
    });
  }
}
