/**
 * What each response header costs on Deno.serve: the same 800-byte JSON answer with 0, 2, 4 and 6
 * headers more than Content-Type, each from a server process of its own, measured one after
 * another (wrk -t2 -c64, ROUNDS rounds, the best of each). It explains most of the gap between
 * `GET /leaderboard` and the bare reference of bench:reads: the service's answer carries
 * Cache-Control, X-Request-Id, Content-Security-Policy and X-Content-Type-Options.
 *
 *   deno task bench:headers       (SECONDS=4 ROUNDS=2)
 */
import { installed, wrk } from "./lib.ts";

if (Deno.args[0] === "serve") {
  const body = new Uint8Array(800).fill(97);
  const headers: [string, string][] = [["content-type", "application/json"]];
  for (let i = 0; i < Number(Deno.args[2]); i++) {
    headers.push([`x-extra-${i}`, "a-value-of-moderate-length"]);
  }
  Deno.serve({
    port: Number(Deno.args[1]),
    hostname: "127.0.0.1",
    onListen: () => console.log("listening"),
  }, () => new Response(body, { headers }));
} else {
  if (!installed("wrk")) throw new Error("bench: headers needs wrk (apt-get install wrk)");
  const SECONDS = Number(Deno.env.get("SECONDS") ?? 4);
  const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 2);
  const counts = [0, 2, 4, 6];
  const servers = [];
  for (const count of counts) {
    const listener = Deno.listen({ port: 0 });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        new URL(import.meta.url).pathname,
        "serve",
        String(port),
        String(count),
      ],
      stdout: "piped",
    }).spawn();
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (!(await reader.read()).value?.includes("listening")) { /* wait */ }
    reader.releaseLock();
    servers.push({ count, child, url: `http://127.0.0.1:${port}/`, best: 0 });
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
    console.log(`Deno.serve, 800-byte answer, wrk -t2 -c64, best of ${ROUNDS} × ${SECONDS} s`);
    for (const server of servers) {
      console.log(
        `content-type + ${server.count} headers: ${Math.round(server.best)} req/s ` +
          `(${(server.best / base).toFixed(2)} ×)`,
      );
    }
  } finally {
    for (const server of servers) {
      server.child.kill("SIGTERM");
      await server.child.status;
      await server.child.stdout.cancel().catch(() => {});
    }
  }
}
