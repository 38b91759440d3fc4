/** Starts the real server (`main.ts`) as a child process, for behaviour that lives in it. */
import { lines } from "../src/lines.ts";
import { freePort } from "./ports.ts";

const ROOT = new URL("../", import.meta.url);

/**
 * The permission flags of `deno task start`, read from deno.json, with DATA_DIR as `dataDir` (the
 * task allows the one it is given), so that the servers under test run with exactly the
 * permissions an operator's do.
 */
export function startTaskFlags(dataDir = "./data", tlsFiles: string[] = []): string[] {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const task = String(config.tasks.start);
  const run = task.slice(task.lastIndexOf("&& ") + 3).trim();
  // The task's words, its quotes taken off (flags are quoted where DATA_DIR may hold spaces).
  const words = [...run.matchAll(/"([^"]*)"|(\S+)/g)].map((match) =>
    (match[1] ?? match[2]).replaceAll("$DATA_DIR", dataDir)
      .replaceAll("$TLS_FILES", tlsFiles.map((file) => `,${file}`).join(""))
  );
  if (words[0] !== "deno" || words[1] !== "run" || words.at(-1) !== "main.ts") {
    throw new Error(`deno.json: the start task is not "… && deno run <flags> main.ts": ${task}`);
  }
  return words.slice(2, -1);
}

/**
 * The flags of a task that is one `deno run <flags> <script>` (db:migrate, say), for running its
 * script as the task does, with `--node-modules-dir=manual` added by the caller.
 */
export function runTaskFlags(name: string): { flags: string[]; script: string } {
  const config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const words = String(config.tasks[name]).split(/\s+/);
  if (words[0] !== "deno" || words[1] !== "run") {
    throw new Error(`deno.json: the ${name} task is not "deno run <flags> <script>"`);
  }
  return { flags: words.slice(2, -1), script: words.at(-1)! };
}

let installed: Promise<void> | undefined;

/**
 * The server's packages in node_modules, once per run. Servers then start with
 * `--node-modules-dir=manual`, as the container does: in the default mode every `deno run` links
 * vendor/postgres into node_modules again, and two servers starting together could find it
 * half-linked ("Unable to load …/postgres/src/index.js").
 */
export function installPackages(): Promise<void> {
  installed ??= (async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["install"],
      cwd: ROOT,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.code !== 0) {
      throw new Error(`deno install failed:\n${new TextDecoder().decode(out.stderr)}`);
    }
  })();
  return installed;
}

/** A running server process. */
export interface TestServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Its log lines so far (JSON lines), stdout and stderr together. */
  readonly logs: string[];
  /** What it wrote to stderr alone (the service logs to stdout: Deno's own messages only). */
  readonly stderr: string[];
  /** The inspector's WebSocket URL, when started with `inspect`. */
  readonly inspector: string | null;
  /** Sends `signal` and waits for the process to end. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
  /** Resolves when the process ends. */
  readonly exited: Promise<Deno.CommandStatus>;
}

/** Options of `startServer`. */
export interface StartOptions {
  /** DATA_DIR, outside the checkout: set, and allowed to be read and written (as the task does). */
  dataDir?: string;
  /** Opens V8's inspector on a free port (see `loadedModules`). */
  inspect?: boolean;
  /** More flags for `deno run` (a benchmark's `--cpu-prof`, say). */
  flags?: string[];
  /**
   * Its stdout goes to /dev/null and the port is chosen here (benchmarks: thousands of log lines a
   * second cost what they cost, but the load's own process must not read them).
   */
  discardLogs?: boolean;
}

/**
 * Runs `main.ts` with `deno task start`'s permissions and exactly `env` (plus PATH and HOME) on a
 * free port; waits until it listens.
 */
export async function startServer(
  env: Record<string, string>,
  options: StartOptions = {},
): Promise<TestServer> {
  const extra = [
    ...(options.inspect ? ["--inspect=127.0.0.1:0"] : []),
    ...(options.flags ?? []),
  ];
  const chosenPort = options.discardLogs ? freePort() : 0;
  await installPackages();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--node-modules-dir=manual",
      // As the task allows them: the certificate files the environment names.
      ...startTaskFlags(
        options.dataDir,
        [
          ...["DATABASE_CA_FILE", "DATABASE_CLIENT_CERT", "DATABASE_CLIENT_KEY"].map((name) =>
            env[name]
          ),
          ...["REDIS_CA_FILE", "REDIS_CLIENT_CERT", "REDIS_CLIENT_KEY"].map((name) => env[name]),
        ].filter((file): file is string => Boolean(file)),
      ),
      ...extra,
      "main.ts",
    ],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ...(Deno.env.has("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      NO_COLOR: "1",
      PORT: String(chosenPort),
      ...(options.dataDir === undefined ? {} : { DATA_DIR: options.dataDir }),
      // SIGTERM stops at once unless a test asks for the drain (tests/drain_test.ts).
      SHUTDOWN_DRAIN_MS: "0",
      // The start line ("listening on", which tells us the port) is written at any LOG_LEVEL.
      ...env,
    },
    stdin: "null",
    stdout: options.discardLogs ? "null" : "piped",
    stderr: "piped",
  }).spawn();

  const logs: string[] = [];
  const stderr: string[] = [];
  const exited = child.status;
  let resolvePort: (port: number) => void = () => {};
  const listening = new Promise<number>((resolve) => resolvePort = resolve);

  let listeningSeen = false;
  async function pump(stream: ReadableStream<Uint8Array>, also?: string[]): Promise<void> {
    for await (const line of lines(stream)) {
      logs.push(line);
      also?.push(line);
      if (!listeningSeen && line.includes('"listening on')) {
        try {
          resolvePort(JSON.parse(line).properties.port);
          listeningSeen = true;
        } catch {
          // not a log record (a crash message, say): kept in `logs`
        }
      }
    }
  }
  const pumped = Promise.all([
    ...(options.discardLogs ? [] : [pump(child.stdout)]),
    pump(child.stderr, stderr),
  ]);
  if (options.discardLogs) {
    // No start line to read: the port is ours, and the server is up once it answers.
    (async () => {
      for (;;) {
        const up = await fetch(`http://127.0.0.1:${chosenPort}/healthz`).then(
          async (res) => (await res.body?.cancel(), res.ok),
          () => false,
        );
        if (up) return resolvePort(chosenPort);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
  }

  const port = await Promise.race([
    listening,
    exited.then(async (status) => {
      await pumped;
      throw new Error(`server exited with ${status.code} before listening:\n${logs.join("\n")}`);
    }),
  ]);

  // A server that dies on its own says why, so that the test that sees it gone can be understood.
  let stopping = false;
  exited.then(async (status) => {
    if (stopping) return;
    await pumped;
    console.error(
      `the server (pid ${child.pid}) exited by itself with ${status.code}` +
        `${status.signal ? ` (${status.signal})` : ""}; its last lines:\n` +
        logs.slice(-30).join("\n"),
    );
  });

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    logs,
    stderr,
    inspector: logs.map((line) => /ws:\/\/\S+/.exec(line)?.[0]).find(Boolean) ?? null,
    exited: exited.then(async (status) => {
      await pumped;
      return status;
    }),
    async stop(signal = "SIGTERM") {
      stopping = true;
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

/**
 * The URLs of the modules (and scripts) the server has compiled so far, from its inspector: V8
 * reports every script it has parsed when a debugger attaches.
 */
export async function loadedModules(server: TestServer): Promise<string[]> {
  if (server.inspector === null) throw new Error("the server was started without inspect");
  const socket = new WebSocket(server.inspector);
  const urls: string[] = [];
  try {
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    await new Promise<void>((resolve) => {
      socket.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (message.method === "Debugger.scriptParsed") urls.push(message.params.url);
        if (message.id === 1) resolve();
      };
      socket.send(JSON.stringify({ id: 1, method: "Debugger.enable" }));
    });
  } finally {
    socket.close();
  }
  return urls;
}
