/**
 * What each response header costs on Deno.serve: the same 800-byte JSON answer with 0, 2, 4 and 6
 * headers more than Content-Type, each from a server process of its own, measured one after
 * another (wrk -t2 -c64, ROUNDS rounds, the best of each). It explains most of the gap between
 * `GET /leaderboard` and the bare reference of bench:reads: the service's answer carries
 * Cache-Control, X-Request-Id, Content-Security-Policy and X-Content-Type-Options.
 *
 * A last server does, on bare Deno.serve (no Hono, no routing, no cache lookup), what the service
 * does for every answer it serves from its cache: those four headers with their values and a new
 * request id, the access-log line (the service's own writer, into a batch that is not written)
 * and the request's metrics (the service's own). Next to bench:reads' bare Hono, it is the most a
 * hot read could reach while the service keeps them.
 *
 *   deno task bench:headers       (SECONDS=4 ROUNDS=2)
 */
import { newRequestId } from "../src/http/request_id.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { accessLogWriter, batchedStdoutSink } from "../src/ops/logging.ts";
import { installed, untilLine, wrk } from "./lib.ts";

/** What the service's cached answer of GET /leaderboard carries besides its body and type. */
const SERVICE_HEADERS: [string, string][] = [
  ["cache-control", "no-store"],
  ["content-security-policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"],
  ["x-content-type-options", "nosniff"],
];

if (Deno.args[0] === "serve") {
  const body = "a".repeat(800);
  const headers: [string, string][] = [["content-type", "application/json"]];
  const service = Deno.args[2] === "service";
  for (let i = 0; i < (service ? 0 : Number(Deno.args[2])); i++) {
    headers.push([`x-extra-${i}`, "a-value-of-moderate-length"]);
  }
  const metrics = createMetrics("bench");
  const log = accessLogWriter(batchedStdoutSink((bytes) => Promise.resolve(bytes.length)));
  Deno.serve({
    port: Number(Deno.args[1]),
    hostname: "127.0.0.1",
    onListen: () => console.log("listening"),
  }, (request, info) => {
    if (!service) return new Response(body, { headers });
    const started = performance.now();
    const requestId = newRequestId();
    const response = new Response(body, {
      headers: [...headers, ...SERVICE_HEADERS, ["x-request-id", requestId]],
    });
    metrics.observe("/leaderboard", "GET", 200, (performance.now() - started) / 1000);
    log({
      method: request.method,
      route: "/leaderboard",
      path: "/leaderboard",
      status: 200,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      requestId,
      client: info.remoteAddr.hostname,
    });
    return response;
  });
} else {
  if (!installed("wrk")) throw new Error("bench: headers needs wrk (apt-get install wrk)");
  const SECONDS = Number(Deno.env.get("SECONDS") ?? 4);
  const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 2);
  const bodyFile = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(bodyFile, "a".repeat(800));
  const self = new URL(import.meta.url).pathname;
  const variants = [
    ...[0, 2, 4, 6].map((count) => ({
      label: `content-type + ${count} headers`,
      args: ["--allow-net", self, "serve", "PORT", String(count)],
    })),
    {
      label: "the service's work for a cached answer (its 4 headers, a request id, " +
        "its access-log line and metrics), no Hono",
      args: [
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        self,
        "serve",
        "PORT",
        "service",
      ],
    },
    {
      label: "bench:reads' reference, bare Hono",
      args: [
        "--allow-net",
        "--allow-read",
        new URL("./bare_hono.ts", import.meta.url).pathname,
        bodyFile,
        "PORT",
      ],
    },
  ];
  const servers = [];
  for (const variant of variants) {
    const listener = Deno.listen({ port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...variant.args.map((arg) => arg === "PORT" ? String(port) : arg)],
      stdout: "piped",
    }).spawn();
    await untilLine(child.stdout, "listening");
    const path = variant.label.startsWith("bench:reads") ? "/leaderboard" : "/";
    servers.push({ ...variant, child, url: `http://127.0.0.1:${port}${path}`, best: 0 });
  }
  try {
    for (const server of servers) await wrk(server.url, ["-t2", "-c64", "-d1s"]); // warm up
    for (let round = 0; round < ROUNDS; round++) {
      for (const server of servers) {
        const result = await wrk(server.url, ["-t2", "-c64", `-d${SECONDS}s`]);
        server.best = Math.max(server.best, result.rate);
      }
    }
    const base = servers[0].best;
    const hono = servers.at(-1)!.best;
    console.log(`Deno.serve, 800-byte answer, wrk -t2 -c64, best of ${ROUNDS} × ${SECONDS} s`);
    for (const server of servers) {
      console.log(
        `${server.label}: ${Math.round(server.best)} req/s (${(server.best / base).toFixed(2)} ×` +
          `${server === servers[0] ? "" : `; ${(server.best / hono).toFixed(2)} × bare Hono`})`,
      );
    }
  } finally {
    for (const server of servers) {
      server.child.kill("SIGTERM");
      await server.child.status;
      await server.child.stdout.cancel().catch(() => {});
    }
    await Deno.remove(bodyFile);
  }
}
