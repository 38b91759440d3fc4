/** Starts the real server (`main.ts`) as a child process, for behaviour that lives in it. */

const ROOT = new URL("../", import.meta.url);

/**
 * The permission flags of `deno task start`, read from deno.json, so that the servers under test
 * run with exactly the permissions an operator's do.
 */
export function startTaskFlags(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const words = String(config.tasks.start).trim().split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts") {
    throw new Error(
      `deno.json: the start task is not "deno run <flags> main.ts": ${words.join(" ")}`,
    );
  }
  return words.slice(2, -1);
}

/** A running server process. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Its log lines so far (JSON lines). */
  readonly logs: string[];
  /** Sends `signal` and waits for the process to end. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process ends. */
  readonly exited: Promise<Deno.CommandStatus>;
}

/** Runs `main.ts` with exactly `env` (plus PATH and HOME) on a free port; waits until it listens. */
export async function startServer(env: Record<string, string>): Promise<TestServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...startTaskFlags(), "main.ts"],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ...(Deno.env.has("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      NO_COLOR: "1",
      PORT: "0",
      ...env,
      // The "listening on" record tells us the port: keep at least info.
      LOG_LEVEL: env.LOG_LEVEL === "debug" ? "debug" : "info",
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();

  const logs: string[] = [];
  const exited = child.status;
  let resolvePort: (port: number) => void;
  const listening = new Promise<number>((resolve) => resolvePort = resolve);

  async function pump(stream: ReadableStream<Uint8Array>): Promise<void> {
    const lines = stream.pipeThrough(new TextDecoderStream());
    let buffered = "";
    for await (const chunk of lines) {
      buffered += chunk;
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        logs.push(line);
        try {
          const record = JSON.parse(line);
          if (String(record.message).startsWith("listening on")) {
            resolvePort(record.properties.port);
          }
        } catch {
          // not a log record (a crash message, say): kept in `logs`
        }
      }
    }
    if (buffered) logs.push(buffered);
  }
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);

  const port = await Promise.race([
    listening,
    exited.then(async (status) => {
      await pumped;
      throw new Error(`server exited with ${status.code} before listening:\n${logs.join("\n")}`);
    }),
  ]);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    logs,
    exited: exited.then(async (status) => {
      await pumped;
      return status;
    }),
    async stop(signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
      const status = await exited;
      await pumped;
      return status;
    },
  };
}
