/** Running PostgreSQL's programs: as the cluster's owner, with an environment of their own. */
import { basename } from "node:path";
import type { RunAs } from "./binaries.ts";

/**
 * The programs get nothing of this process's environment (no PG* variable can redirect them) and
 * English messages, which is what their logs are read in.
 */
export function commandOptions(owner: RunAs | null): Deno.CommandOptions {
  return {
    clearEnv: true,
    env: { LC_ALL: "C" },
    stdin: "null",
    ...(owner === null ? {} : { uid: owner.uid, gid: owner.gid }),
  };
}

/** The last lines of a program's output, for an error message. */
export function tail(text: string, lines = 5): string {
  return text.trim().split("\n").slice(-lines).join(" | ");
}

/** Runs `program` to its end; unless `check` is false, a failure throws with its last words. */
export async function run(
  program: string,
  args: string[],
  owner: RunAs | null,
  options: { check?: boolean } = {},
): Promise<Deno.CommandOutput> {
  const output = await new Deno.Command(program, {
    ...commandOptions(owner),
    args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success && options.check !== false) {
    const said = new TextDecoder().decode(output.stderr) || new TextDecoder().decode(output.stdout);
    throw new Error(`${basename(program)} failed (exit code ${output.code}): ${tail(said)}`);
  }
  return output;
}
