/**
 * Before and after in one run: a benchmark of this checkout next to the same benchmark of another
 * commit, taking turns round after round on the same machine (its noise shared), with each
 * figure's median and spread. The other commit is checked out aside (a git worktree in the
 * temporary directory, its packages installed) and reused by later runs.
 *
 *   deno task bench:compare <ref> [bench:completions|bench:reads|bench:me] [rounds]
 *
 * The environment reaches both (RULES, ACCOUNTS, SECONDS…); a variable the other commit's
 * benchmark does not know is ignored there (RULES before rules existed: its action has none;
 * ACCOUNTS too: its load runs over CLIENTS accounts, another load; ANALYZED: its tables have no
 * statistics, other plans). Each side's own account of what it ran (its setup line) is printed
 * with the figures, and a difference is pointed out: a figure is only compared with one measured
 * under the same load.
 * AFTER_ENV, a JSON object of variables, reaches this checkout's runs alone: with <ref> HEAD it
 * compares two settings of the same code (AFTER_ENV='{"RULES":"…"}': an action with rules
 * against one without).
 */
import { join } from "node:path";

const ROOT = new URL("../", import.meta.url).pathname;

/** The figures each benchmark prints, and how to find them in its output. */
const FIGURES: Record<string, [string, RegExp][]> = {
  "bench:completions": [
    ["completions/s", /complete: (\d+) completions\/s/],
    ["pgbench, its statement, tx/s", /statement for one completion \(1 round trip\): (\d+) tx\/s/],
    ["service / statement", /ratio service \/ pgbench: [\d.]+ of the reference, ([\d.]+) of/],
    // Not 201 (a limit reached, a 429, a failure): a round with any is not a completions figure.
    ["answers not 201", /completions\/s \(p50 [^,]+, p99 [^,]+, (\d+) errors\)/],
  ],
  "bench:reads": [
    ["GET /leaderboard req/s", /^reads: (\d+) req\/s/m],
    ["bare Hono req/s", /bare Hono, same \d+ bytes: (\d+) req\/s/],
    ["reads / bare Hono", /; ([\d.]+) ×/],
  ],
  "bench:me": [
    ["GET /me without sid req/s", /median without sid[^:]*: (\d+) req\/s/],
    ["GET /me with sid req/s", /median with sid[^:]*: (\d+) req\/s/],
  ],
};

async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: ROOT }).output();
  if (out.code !== 0) {
    throw new Error(`git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** A checkout of `ref` aside, with its packages installed. */
async function checkout(ref: string): Promise<string> {
  const sha = await git("rev-parse", "--short=12", `${ref}^{commit}`);
  const dir = join(Deno.env.get("TMPDIR") ?? "/tmp", `scoreboard-${sha}`);
  try {
    await Deno.stat(join(dir, "deno.json"));
  } catch {
    await git("worktree", "add", "--detach", "--force", dir, sha);
  }
  const install = await new Deno.Command(Deno.execPath(), { args: ["install"], cwd: dir }).output();
  if (install.code !== 0) throw new Error(`deno install in ${dir} failed`);
  return dir;
}

/** The line in which each benchmark says what it ran (its load, its settings). */
const SETUP: Record<string, RegExp> = {
  "bench:completions": /^\d+ clients \(.*$/m,
};

/** Runs `task` in `dir` with `env` added; answers its figures and its setup line. */
async function measure(
  dir: string,
  task: string,
  env: Record<string, string>,
): Promise<{ figures: (number | null)[]; setup: string | undefined }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", task],
    cwd: dir,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`${task} in ${dir} failed:\n${text.slice(-2000)}`);
  const figures = FIGURES[task].map(([, pattern]) => {
    const found = pattern.exec(text);
    return found ? Number(found[1]) : null;
  });
  return { figures, setup: SETUP[task]?.exec(text)?.[0] };
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

if (import.meta.main) {
  const [ref, task = "bench:completions", rounds = "3"] = Deno.args;
  if (!ref || !FIGURES[task]) {
    console.error(
      `usage: deno task bench:compare <ref> [${Object.keys(FIGURES).join("|")}] [rounds]`,
    );
    Deno.exit(2);
  }
  const before = await checkout(ref);
  const afterEnv: Record<string, string> = JSON.parse(Deno.env.get("AFTER_ENV") ?? "{}");
  const sides = [["before", before, {}], ["after", ROOT, afterEnv]] as const;
  const results: Record<string, (number | null)[][]> = { before: [], after: [] };
  const setups: Record<string, string | undefined> = {};
  for (let round = 1; round <= Number(rounds); round++) {
    // Turns swap each round, so that neither side always runs on a warmer machine.
    for (const [side, dir, env] of round % 2 ? sides : [...sides].reverse()) {
      const { figures, setup } = await measure(dir, task, env);
      results[side].push(figures);
      setups[side] ??= setup;
      console.log(`round ${round}, ${side}: ${figures.join(", ")}`);
    }
  }
  console.log(
    `\n${task}: ${ref} (${before}) against this checkout` +
      `${
        Object.keys(afterEnv).length ? ` with ${JSON.stringify(afterEnv)}` : ""
      }, ${rounds} rounds`,
  );
  for (const side of ["before", "after"]) {
    if (setups[side]) console.log(`${side} ran: ${setups[side]}`);
  }
  if (setups.before !== undefined && setups.after !== undefined) {
    // Before ACCOUNTS existed, the load ran over one account per client.
    const shape = (line: string) => {
      const clients = /^(\d+) clients/.exec(line)?.[1];
      const accounts = / over (\d+) accounts/.exec(line)?.[1] ?? clients;
      const rest = [/server pool \d+/, /database \w+/].map((p) => p.exec(line)?.[0]);
      // Before ANALYZED existed, the tables had no statistics.
      const analyzed = /(never )?analyzed/.exec(line)?.[0] ?? "never analyzed";
      return [clients, accounts, ...rest, analyzed].join(" ");
    };
    if (shape(setups.before) !== shape(setups.after)) {
      console.log("warning: the two sides ran different loads (see above): not comparable");
    }
  }
  FIGURES[task].forEach(([name], i) => {
    const of = (side: string) => results[side].map((r) => r[i]).filter((v) => v !== null);
    const [b, a] = [of("before"), of("after")];
    if (b.length === 0 || a.length === 0) return console.log(`${name}: not printed`);
    const range = (v: number[]) => `${Math.min(...v)}–${Math.max(...v)}`;
    const ratio = median(b) > 0 ? `, after / before ${(median(a) / median(b)).toFixed(3)}` : "";
    console.log(
      `${name}: before ${median(b)} (${range(b)}), after ${median(a)} (${range(a)})${ratio}`,
    );
  });
}
