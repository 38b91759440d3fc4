/**
 * Pages served as files, no build step (the live page, the operator console): each under a policy
 * that lets it load its own scripts, styles and data from this origin only.
 */
import { Hono } from "hono";
import type { AppEnv } from "./env.ts";

/** A page's own policy: its scripts, styles and requests go to this origin only. */
const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
  "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

/** GET routes for `assets` (path → file name in `dir`), each file read once. */
export function assetRoutes(dir: URL, assets: Record<string, string>) {
  const cache = new Map<string, Promise<Uint8Array>>();
  const app = new Hono<AppEnv>();
  for (const [path, file] of Object.entries(assets)) {
    app.get(path, async (c) => {
      let body = cache.get(file);
      if (!body) {
        body = Deno.readFile(new URL(file, dir));
        cache.set(file, body);
      }
      return c.body(await body as Uint8Array<ArrayBuffer>, 200, {
        "content-type": TYPES[file.split(".").pop()!],
        "cache-control": "no-cache",
        "content-security-policy": PAGE_CSP,
        // Headers that only a document needs (the API's responses go without them).
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
        "origin-agent-cluster": "?1",
        "cross-origin-resource-policy": "same-origin",
      });
    });
  }
  return app;
}
