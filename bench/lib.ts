/** What the benchmarks share: percentiles, wrk, process memory, and a line of the table. */
import { lines } from "../src/lines.ts";
export { lines };

/**
 * Waits until a child's output has a line with `text` in it (its "listening"), then reads the
 * rest in the background, so that the child can go on writing. Throws if the output ends first.
 */
export async function untilLine(output: ReadableStream<Uint8Array>, text: string): Promise<void> {
  const each = lines(output);
  for (;;) {
    const { value, done } = await each.next();
    if (done) throw new Error(`the process ended before it printed "${text}"`);
    if (value.includes(text)) break;
  }
  (async () => {
    for await (const _ of each) { /* drained */ }
  })();
}

/** The value below which a fraction `p` of the sorted values lies. */
export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Whether a program is on the PATH. */
export function installed(program: string): boolean {
  try {
    return new Deno.Command("which", { args: [program], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

/** A process's resident memory, in KiB. */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

/** What wrk measured. */
export interface WrkResult {
  rate: number;
  p50: number;
  p99: number;
  errors: number;
}

/** Runs wrk (`args` before the URL) and reads its requests/s, latency percentiles and errors. */
export async function wrk(url: string, args: string[], after: string[] = []): Promise<WrkResult> {
  const out = await new Deno.Command("wrk", {
    args: [...args, "--latency", url, ...after],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!rate) throw new Error(`wrk: ${text}${new TextDecoder().decode(out.stderr)}`);
  const ms = (label: string) => {
    const match = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(text);
    if (!match) return NaN;
    return Number(match[1]) * (match[2] === "us" ? 0.001 : match[2] === "s" ? 1000 : 1);
  };
  const errors = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0) +
    Number(
      /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text)
        ?.slice(1).reduce((a, b) => a + Number(b), 0) ?? 0,
    );
  return { rate: Number(rate[1]), p50: ms("50"), p99: ms("99"), errors };
}

/** One scenario's line of the table: its figure, the reference, the ratio and the target. */
export interface Row {
  scenario: string;
  figure: string;
  reference: string;
  result: string;
  target: string;
  met: boolean | null;
  details: Record<string, unknown>;
}

/** A scenario's line of the table, for a benchmark run on its own. */
export function rowLine(row: Row): string {
  return `${row.scenario}: ${row.figure}; ${row.reference}; ${row.result} (${row.target})`;
}

/**
 * CPU time (user + system, ms) of every process on the machine, by pid, with its command; pid 0
 * is the whole machine's busy time (/proc/stat: all but idle and iowait), which also counts
 * processes that ended in between (pgbench's backends).
 */
export async function processCpu(): Promise<Map<number, { command: string; ms: number }>> {
  const ticks = 100; // USER_HZ on Linux
  const cpu = new Map<number, { command: string; ms: number }>();
  const all = (await Deno.readTextFile("/proc/stat")).split("\n")[0].split(/\s+/).slice(1)
    .map(Number);
  const busy = all.reduce((a, b) => a + b, 0) - all[3] - all[4];
  cpu.set(0, { command: "(machine)", ms: busy * 1000 / ticks });
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      const command = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      cpu.set(Number(entry.name), {
        command,
        ms: (Number(fields[11]) + Number(fields[12])) * 1000 / ticks,
      });
    } catch {
      // ended meanwhile
    }
  }
  return cpu;
}

/**
 * Where the CPU went between two `processCpu()` snapshots, per unit of work: milliseconds by
 * group, as microseconds per `units`. `group` names a process (or returns undefined to skip it).
 */
export function cpuPerUnit(
  before: Map<number, { command: string; ms: number }>,
  after: Map<number, { command: string; ms: number }>,
  units: number,
  group: (pid: number, command: string) => string | undefined,
): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [pid, { command, ms }] of after) {
    const name = group(pid, command);
    if (name === undefined) continue;
    const delta = ms - (before.get(pid)?.ms ?? 0);
    spent[name] = (spent[name] ?? 0) + delta * 1000 / units;
  }
  return spent;
}

/** The server flags that make it write a V8 CPU profile into PROFILE_DIR when it stops, if set. */
export function profileFlags(): string[] {
  const dir = Deno.env.get("PROFILE_DIR");
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

/**
 * A load's starting point on a running server: the action `bench-action` (1 point) and `count`
 * accounts `bench-<i>`, registered one after another so that their ids (and their sessions')
 * are consecutive. Returns the action's slug and each account's session as the API answered it.
 */
export async function benchAccounts(
  baseUrl: string,
  adminToken: string,
  count: number,
  rules: Record<string, unknown> = {},
): Promise<{ slug: string; sessions: { accessToken: string; account: { id: number } }[] }> {
  const slug = "bench-action";
  const admin = await fetch(`${baseUrl}/admin/actions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ slug, label: "Bench", pointValue: 1, ...rules }),
  });
  await admin.body?.cancel();
  if (admin.status !== 201) throw new Error(`create action: ${admin.status}`);
  const sessions = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${baseUrl}/auth/register`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        username: `bench-${i}`,
        email: `bench-${i}@example.com`,
        password: "bench password",
      }),
    });
    if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
    sessions.push(await res.json());
  }
  return { slug, sessions };
}
