/**
 * Logins: POST /auth/login per second at bcrypt cost 12 through the real server (its worker pool
 * on every core), next to native bcrypt (Apache's `htpasswd`, C) hashing on every core in the same
 * run; and meanwhile, the p99 of other routes (GET /leaderboard and GET /me at a steady pace), to
 * show that hashing never blocks the event loop.
 *
 *   deno task bench:logins            (SECONDS=10, CLIENTS=8; needs htpasswd for the reference:
 *                                      apt-get install apache2-utils)
 */
import { benchDatabase } from "./database.ts";
import {
  clearRedisPrefix,
  httpClient,
  newUser,
  randomPrefix,
  register,
  testEnv,
} from "../tests/helpers.ts";
import { startServer } from "../tests/server.ts";
import { installed, percentile, type Row, rowLine } from "./lib.ts";

const SECONDS = Number(Deno.env.get("SECONDS") ?? 10);
const CLIENTS = Number(Deno.env.get("CLIENTS") ?? 8);
const COST = 12;
const cores = navigator.hardwareConcurrency;

/** Native bcrypt on every core for `seconds`: hashes per second. */
async function native(seconds: number): Promise<number> {
  const until = performance.now() + seconds * 1000;
  let hashes = 0;
  await Promise.all(Array.from({ length: cores }, async () => {
    while (performance.now() < until) {
      const out = await new Deno.Command("htpasswd", {
        args: ["-bnBC", String(COST), "user", "correct horse battery staple"],
        stdout: "null",
        stderr: "null",
      }).output();
      if (!out.success) throw new Error("htpasswd failed");
      hashes++;
    }
  }));
  return hashes / seconds;
}

/** Runs the scenario and returns its line of the table. */
export async function run(): Promise<Row> {
  const db = await benchDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix, {
    BCRYPT_COST: String(COST),
    BCRYPT_WORKERS: String(cores),
    LOGIN_MAX_FAILURES_PER_ADDRESS: "1000000",
    LOG_LEVEL: "warning",
  }));
  try {
    const api = httpClient(server.url);
    const users = [];
    for (let i = 0; i < CLIENTS; i++) users.push(newUser("bench"));
    const sessions = [];
    for (const user of users) sessions.push(await register(api, user));

    // Other routes, at a steady pace, while the logins hash.
    const others: number[] = [];
    let stop = false;
    const probing = (async () => {
      for (let i = 0; !stop; i++) {
        const started = performance.now();
        const res = i % 2 === 0
          ? await fetch(`${server.url}/leaderboard`)
          : await fetch(`${server.url}/me`, {
            headers: { authorization: `Bearer ${sessions[i % sessions.length].accessToken}` },
          });
        await res.body?.cancel();
        others.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    let logins = 0;
    let errors = 0;
    const until = performance.now() + SECONDS * 1000;
    await Promise.all(users.map(async (user) => {
      while (performance.now() < until) {
        const res = await api.call("POST", "/auth/login", {
          body: { email: user.email, password: user.password },
        });
        await res.body?.cancel();
        if (res.status === 200) logins++;
        else errors++;
      }
    }));
    stop = true;
    await probing;
    const rate = logins / SECONDS;
    others.sort((a, b) => a - b);
    const p99 = percentile(others, 0.99);
    const reference = installed("htpasswd") ? await native(SECONDS) : null;
    const ratio = reference === null ? null : rate / reference;
    return {
      scenario: "logins",
      figure: `${rate.toFixed(2)} logins/s at cost ${COST} (${errors} errors); other routes ` +
        `p99 ${p99.toFixed(1)} ms over ${others.length} requests`,
      reference: reference === null
        ? "htpasswd not installed"
        : `native bcrypt (htpasswd) on ${cores} cores: ${reference.toFixed(2)} hashes/s`,
      result: `${ratio === null ? "—" : `${ratio.toFixed(2)} ×`}; p99 ${p99.toFixed(1)} ms`,
      target: "≥ 0.85; p99 ≤ 20 ms",
      met: ratio === null ? null : ratio >= 0.85 && p99 <= 20,
      details: { rate, reference, p99, others: others.length, errors },
    };
  } finally {
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
  }
}

if (import.meta.main) console.log(rowLine(await run()));
