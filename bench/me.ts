/**
 * What checking the session costs on GET /me: requests per second through the real server with an
 * access token without `sid` (the account check alone) and with one (the account and its session,
 * in the same query), alternated in one run so that the ratio compares like with like.
 *
 *   deno task bench:me        (SECONDS=10 CONNECTIONS=64 ROUNDS=3 DATABASE_POOL_SIZE=10)
 *
 * Uses wrk when it is installed (`apt-get install wrk`), else a fetch loop in this process (which
 * then competes with the server for the same cores: compare its ratios, not its rates).
 */
import { benchDatabase } from "./database.ts";
import { SignJWT } from "jose";
import { clearRedisPrefix, JWT_SECRET, newUser, randomPrefix, testEnv } from "../tests/helpers.ts";
import { startServer } from "../tests/server.ts";
import { installed, wrk } from "./lib.ts";

const SECONDS = Number(Deno.env.get("SECONDS") ?? 10);
const CONNECTIONS = Number(Deno.env.get("CONNECTIONS") ?? 64);
const ROUNDS = Number(Deno.env.get("ROUNDS") ?? 3);
const POOL = Deno.env.get("DATABASE_POOL_SIZE") ?? "10";

interface Result {
  rate: number;
  errors: number;
}

/** GET `url` with `token` through wrk (C: it takes little of the 2 cores). */
async function withWrk(url: string, token: string, seconds: number): Promise<Result> {
  const result = await wrk(url, [
    "-t2",
    `-c${CONNECTIONS}`,
    `-d${seconds}s`,
    "-H",
    `Authorization: Bearer ${token}`,
  ]);
  return { rate: result.rate, errors: result.errors };
}

async function fetchLoop(url: string, token: string, seconds: number): Promise<Result> {
  let done = 0;
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < until) {
      const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      await res.body?.cancel();
      if (res.status === 200) done++;
      else errors++;
    }
  }));
  return { rate: done / seconds, errors };
}

const db = await benchDatabase();
const prefix = randomPrefix();
const server = await startServer(testEnv(db, prefix, {
  DATABASE_POOL_SIZE: POOL,
  LOG_LEVEL: "warning",
}));
try {
  const res = await fetch(`${server.url}/auth/register`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(newUser("bench")),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  const session = await res.json();
  const now = Math.floor(Date.now() / 1000);
  const withoutSid = await new SignJWT({}).setProtectedHeader({ alg: "HS256" })
    .setSubject(String(session.account.id)).setIssuedAt(now).setExpirationTime(now + 3600)
    .sign(new TextEncoder().encode(JWT_SECRET));
  const tokens = { "without sid": withoutSid, "with sid": session.accessToken as string };
  for (const token of Object.values(tokens)) {
    const check = await fetch(`${server.url}/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await check.body?.cancel();
    if (check.status !== 200) throw new Error(`GET /me: ${check.status}`);
  }

  const useWrk = installed("wrk");
  const load = useWrk ? withWrk : fetchLoop;
  const url = `${server.url}/me`;
  console.log(
    `GET /me, ${useWrk ? "wrk -t2" : "fetch loop"}, ${CONNECTIONS} connections, ` +
      `${SECONDS} s per measurement, ${ROUNDS} rounds, server pool ${POOL}, 2 cores shared`,
  );
  await load(url, withoutSid, Math.min(2, SECONDS)); // warm up

  const rates: Record<string, number[]> = { "without sid": [], "with sid": [] };
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first, so that neither always runs on a warmer server.
    const order = round % 2 ? ["without sid", "with sid"] : ["with sid", "without sid"];
    const line: string[] = [];
    for (const name of order as (keyof typeof tokens)[]) {
      const result = await load(url, tokens[name], SECONDS);
      rates[name].push(result.rate);
      line.push(`${name} ${result.rate.toFixed(0)} req/s (${result.errors} errors)`);
    }
    console.log(`round ${round}: ${line.join(", ")}`);
  }
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  };
  const plain = median(rates["without sid"]);
  const checked = median(rates["with sid"]);
  console.log(`median without sid (account check only): ${plain.toFixed(0)} req/s`);
  console.log(`median with sid (account + session check): ${checked.toFixed(0)} req/s`);
  console.log(`ratio with / without: ${(checked / plain).toFixed(3)}`);
} finally {
  await server.stop();
  await db.drop();
  await clearRedisPrefix(prefix);
}
