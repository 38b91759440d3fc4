/** A Redis server of one test's own (from the machine's `redis-server`), to stop and start. */
import { Redis } from "ioredis";

/** A Redis process on a port of its own. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Stops the server (its data is gone: it keeps nothing on disk). */
  stop(): Promise<void>;
  /** Starts it again, empty, on the same port. */
  start(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers. */
  pause(): void;
  /** Thaws it (SIGCONT). */
  resume(): void;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/** Starts `redis-server` on a free port and waits until it answers. */
export async function startTestRedis(): Promise<TestRedis> {
  const port = freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: Deno.ChildProcess | undefined;

  async function start(): Promise<void> {
    child = new Deno.Command("redis-server", {
      args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 100 && !(await answers(url)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!(await answers(url))) throw new Error(`redis-server on ${port} does not answer`);
  }

  await start();
  return {
    port,
    url,
    async stop() {
      if (!child) return;
      child.kill("SIGCONT");
      child.kill("SIGKILL");
      await child.status;
      child = undefined;
    },
    start,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
  };
}
