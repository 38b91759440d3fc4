/**
 * Reads: GET /leaderboard (the default top 10, the hottest route) through the real server, next
 * to a bare Hono app on Deno.serve returning the same bytes, in the same run, with wrk -t2 -c64
 * on the same 2 cores. The two alternate (service, bare, service, bare) and the better run of
 * each counts, so that a burst of noise does not decide the ratio.
 *
 *   deno task bench:reads            (SECONDS=5 per run; LOG_LEVEL, default info: the access log
 *                                     is on, as it ships)
 */
import { benchDatabase } from "./database.ts";
import {
  accountsWith,
  clearRedisPrefix,
  httpClient,
  randomPrefix,
  testEnv,
} from "../tests/helpers.ts";
import { startServer } from "../tests/server.ts";
import {
  installed,
  profileFlags,
  type Row,
  rowLine,
  untilLine,
  wrk,
  type WrkResult,
} from "./lib.ts";

const SECONDS = Number(Deno.env.get("SECONDS") ?? 5);

/** The bare reference on a port of its own, as a separate process like the service. */
async function startBare(body: Uint8Array) {
  const file = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeFile(file, body);
  const listener = Deno.listen({ port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "bench/bare_hono.ts", file, String(port)],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  await untilLine(child.stdout, "listening");
  return {
    url: `http://127.0.0.1:${port}/leaderboard`,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await Deno.remove(file);
    },
  };
}

/** Runs the scenario and returns its line of the table. */
export async function run(): Promise<Row> {
  if (!installed("wrk")) throw new Error("bench: reads needs wrk (apt-get install wrk)");
  const db = await benchDatabase();
  const prefix = randomPrefix();
  const server = await startServer(
    testEnv(db, prefix, {
      COMPLETIONS_PER_SECOND: "1000",
      LOG_LEVEL: Deno.env.get("LOG_LEVEL") ?? "info",
    }),
    { flags: profileFlags(), discardLogs: true },
  );
  let bare: Awaited<ReturnType<typeof startBare>> | undefined;
  try {
    await accountsWith(httpClient(server.url), [9, 8, 7, 6, 5, 4, 3, 2, 1, 1]);
    const url = `${server.url}/leaderboard`;
    const body = new Uint8Array(await (await fetch(url)).arrayBuffer());
    bare = await startBare(body);
    const check = await fetch(bare.url);
    if ((await check.text()) !== new TextDecoder().decode(body)) {
      throw new Error("the bare app does not answer the same bytes");
    }
    const args = ["-t2", "-c64", `-d${SECONDS}s`];
    await wrk(url, ["-t2", "-c64", "-d1s"]); // warm up both
    await wrk(bare.url, ["-t2", "-c64", "-d1s"]);
    const runs: { service: WrkResult[]; bare: WrkResult[] } = { service: [], bare: [] };
    for (let i = 0; i < 2; i++) {
      runs.service.push(await wrk(url, args));
      runs.bare.push(await wrk(bare.url, args));
    }
    const best = (list: WrkResult[]) => list.reduce((a, b) => (b.rate > a.rate ? b : a));
    const service = best(runs.service);
    const reference = best(runs.bare);
    const ratio = service.rate / reference.rate;
    return {
      scenario: "reads",
      figure: `${Math.round(service.rate)} req/s (p99 ${service.p99.toFixed(1)} ms, ` +
        `${service.errors} errors)`,
      reference: `bare Hono, same ${body.length} bytes: ${Math.round(reference.rate)} req/s`,
      result: `${ratio.toFixed(2)} ×`,
      target: "≥ 0.7",
      met: ratio >= 0.7,
      details: { bytes: body.length, runs, logLevel: Deno.env.get("LOG_LEVEL") ?? "info" },
    };
  } finally {
    await bare?.stop();
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
}

if (import.meta.main) console.log(rowLine(await run()));
