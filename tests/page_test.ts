import assert from "node:assert/strict";
import { openTestApp } from "./helpers.ts";

Deno.test("[page] GET / serves the live page with a strict policy of its own", async () => {
  const t = await openTestApp();
  try {
    const res = await t.call("GET", "/");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    const csp = res.headers.get("content-security-policy") ?? "";
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    const html = await res.text();
    assert.match(html, /<html lang="en">/);
    assert.match(html, /src="\/app.js"/);
    assert.match(html, /role="status"/);

    const js = await t.call("GET", "/app.js");
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /^text\/javascript/);
    assert.match(await js.text(), /new EventSource\("\/leaderboard\/stream"\)/);
    const css = await t.call("GET", "/app.css");
    assert.match(css.headers.get("content-type") ?? "", /^text\/css/);
    await css.body?.cancel();
  } finally {
    await t.close();
  }
});

Deno.test("[cors] CORS_ORIGINS opens the public read routes and the stream, and nothing else", async () => {
  const t = await openTestApp({ CORS_ORIGINS: "https://board.example, https://other.example" });
  try {
    const origin = { origin: "https://board.example" };
    for (const path of ["/leaderboard", "/leaderboard/accounts/1", "/actions"]) {
      const res = await t.call("GET", path, { headers: origin });
      assert.equal(res.headers.get("access-control-allow-origin"), "https://board.example", path);
      await res.body?.cancel();
    }
    const preflight = await t.call("OPTIONS", "/leaderboard/stream", {
      headers: { ...origin, "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-origin"), "https://board.example");

    const stranger = await t.call("GET", "/leaderboard", {
      headers: { origin: "https://evil.example" },
    });
    assert.equal(stranger.headers.get("access-control-allow-origin"), null);
    await stranger.body?.cancel();

    for (
      const [method, path] of [["POST", "/auth/login"], ["GET", "/me"], [
        "POST",
        "/actions/x/complete",
      ]]
    ) {
      const res = await t.call(method, path, { headers: origin });
      assert.equal(res.headers.get("access-control-allow-origin"), null, `${method} ${path}`);
      await res.body?.cancel();
      const pre = await t.call("OPTIONS", path, {
        headers: { ...origin, "access-control-request-method": method },
      });
      assert.equal(pre.headers.get("access-control-allow-origin"), null, `OPTIONS ${path}`);
      await pre.body?.cancel();
    }
  } finally {
    await t.close();
  }
});

Deno.test("[cors] no origin is allowed by default", async () => {
  const t = await openTestApp();
  try {
    const res = await t.call("GET", "/leaderboard", {
      headers: { origin: "https://board.example" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    await res.body?.cancel();
  } finally {
    await t.close();
  }
});
