/**
 * bcrypt throughput of the worker pool: hashes per second with one worker per core and with a
 * single worker, in the same run. `deno task bench:bcrypt` (BCRYPT_COST, default 12; HASHES, 16).
 */
import { createPasswordHasher } from "../src/auth/password_hasher.ts";

const cost = Number(Deno.env.get("BCRYPT_COST") ?? 12);
const hashes = Number(Deno.env.get("HASHES") ?? 16);
const cores = navigator.hardwareConcurrency;

async function rate(workers: number): Promise<number> {
  const hasher = createPasswordHasher({ workers, cost });
  try {
    // Warm up every worker (module load, WebAssembly compile) before timing.
    await Promise.all(Array.from({ length: workers }, () => hasher.hash("warm up the worker")));
    const started = performance.now();
    await Promise.all(Array.from({ length: hashes }, (_, i) => hasher.hash(`password ${i}`)));
    return hashes / ((performance.now() - started) / 1000);
  } finally {
    hasher.close();
  }
}

const single = await rate(1);
const pool = await rate(cores);
console.log(`bcrypt cost ${cost}, ${hashes} hashes, ${cores} cores`);
console.log(`  1 worker:       ${single.toFixed(2)} hashes/s`);
console.log(
  `  ${cores} workers (pool): ${pool.toFixed(2)} hashes/s  (${(pool / single).toFixed(2)}x)`,
);
