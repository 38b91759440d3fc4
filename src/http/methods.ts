/**
 * Which methods a path has, for the 405 of a method it has not (API.md: 405 with `Allow`): the
 * app's routes, middleware aside, in a router of their own.
 */
import type { Hono } from "hono";
import { TrieRouter } from "hono/router/trie-router";

/** A route of `app.routes`. */
type Route = Hono["routes"][number];

/**
 * Answers the methods `path` has among `routes` (HEAD wherever GET is), sorted; none for a path
 * no route has. `middleware` tells handlers that only pass requests on (never a route's own).
 */
export function methodsOf(
  routes: readonly Route[],
  middleware: (route: Route) => boolean,
): (path: string) => string[] {
  const router = new TrieRouter<true>();
  const methods = new Set<string>();
  for (const route of routes) {
    if (route.method === "ALL" || middleware(route)) continue;
    router.add(route.method, route.path, true);
    methods.add(route.method);
  }
  return (path) => {
    const allowed = [...methods].filter((method) => router.match(method, path)[0].length > 0);
    if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
    return allowed.sort();
  };
}
