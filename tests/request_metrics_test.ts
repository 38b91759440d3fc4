/** The lean request metrics print exactly what prom-client's own Counter and Histogram would. */
import assert from "node:assert/strict";
import client from "prom-client";
import { requestMetrics } from "../src/ops/request_metrics.ts";

const BOUNDS = [0.001, 0.01, 0.1, 1];

Deno.test("[metrics] request counts and durations read as prom-client's own would", async () => {
  const ours = new client.Registry();
  const observe = requestMetrics(ours, "t_", BOUNDS);
  const theirs = new client.Registry();
  const requests = new client.Counter({
    name: "t_http_requests_total",
    help: "HTTP requests by route pattern, method and status.",
    labelNames: ["route", "method", "status"],
    registers: [theirs],
  });
  const duration = new client.Histogram({
    name: "t_http_request_duration_seconds",
    help: "Time to the response's headers, by route pattern.",
    labelNames: ["route", "method"],
    buckets: BOUNDS,
    registers: [theirs],
  });
  const seen: [string, string, number, number][] = [
    ["/leaderboard", "GET", 200, 0.0004],
    ["/leaderboard", "GET", 200, 0.001], // on a bound: in that bucket
    ["/leaderboard", "GET", 304, 0.05],
    ["/me", "GET", 401, 3],
    ["/leaderboard", "HEAD", 200, 0.2],
    ["unmatched", "POST", 404, 0.000001],
  ];
  for (const [route, method, status, seconds] of seen) {
    observe(route, method, status, seconds);
    requests.inc({ route, method, status: String(status) });
    duration.observe({ route, method }, seconds);
  }
  assert.equal(await ours.metrics(), await theirs.metrics());

  ours.resetMetrics();
  assert.doesNotMatch(await ours.metrics(), /route=/);
});
