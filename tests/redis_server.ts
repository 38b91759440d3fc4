/** A Redis server of one test's own (from the machine's `redis-server`), to stop and start. */
import { Redis } from "ioredis";
import { freePort } from "./ports.ts";

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

/** Starts `redis-server` on a free port (with `extra` arguments) and waits until it answers. */
export async function startTestRedis(extra: string[] = []): Promise<TestRedis> {
  const port = freePort();
  const url = `redis://127.0.0.1:${port}`;
  // Where a master writes the snapshot a replica syncs from (never the checkout).
  const dir = await Deno.makeTempDir({ prefix: "scoreboard-redis-" });
  let child: Deno.ChildProcess | undefined;

  async function start(): Promise<void> {
    await Deno.mkdir(dir, { recursive: true });
    child = new Deno.Command("redis-server", {
      args: [
        ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        ...["--dir", dir],
        ...extra,
      ],
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
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    start,
    pause: () => child?.kill("SIGSTOP"),
    resume: () => child?.kill("SIGCONT"),
  };
}

/** A Redis master, a replica of it and three sentinels watching them (quorum 2), on free ports. */
export interface TestSentinels {
  readonly name: string;
  readonly master: TestRedis;
  readonly replica: TestRedis;
  /** "host:port,…" of the sentinels (REDIS_SENTINELS). */
  readonly sentinels: string;
  /** The address the sentinels give for the master now. */
  masterPort(): Promise<number>;
  /** Promotes the replica (SENTINEL FAILOVER) and resolves once the sentinels name it. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

export async function startTestSentinels(): Promise<TestSentinels> {
  const name = "scoreboard";
  const master = await startTestRedis();
  const replica = await startTestRedis(["--replicaof", "127.0.0.1", String(master.port)]);
  const dir = await Deno.makeTempDir({ prefix: "scoreboard-sentinel-" });
  const ports = [freePort(), freePort(), freePort()];
  const children: Deno.ChildProcess[] = [];
  for (const port of ports) {
    const conf = `${dir}/sentinel-${port}.conf`;
    await Deno.writeTextFile(
      conf,
      [
        `port ${port}`,
        "bind 127.0.0.1",
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        "",
      ].join("\n"),
    );
    children.push(
      new Deno.Command("redis-server", {
        args: [conf, "--sentinel"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn(),
    );
  }
  const sentinel = new Redis(ports[0], "127.0.0.1", { maxRetriesPerRequest: 1 });
  sentinel.on("error", () => {});
  async function masterPort(): Promise<number> {
    const [, port] = await sentinel.call("SENTINEL", "get-master-addr-by-name", name) as string[];
    return Number(port);
  }
  const ready = async () => {
    try {
      const replicas = await sentinel.call("SENTINEL", "replicas", name) as string[][];
      const sentinels = await sentinel.call("SENTINEL", "sentinels", name) as string[][];
      return replicas.length === 1 && sentinels.length === 2;
    } catch {
      return false;
    }
  };
  for (let i = 0; i < 200 && !(await ready()); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!(await ready())) throw new Error("the sentinels did not find the replica and each other");
  return {
    name,
    master,
    replica,
    sentinels: ports.map((port) => `127.0.0.1:${port}`).join(","),
    masterPort,
    async failover() {
      const before = await masterPort();
      await sentinel.call("SENTINEL", "failover", name);
      for (let i = 0; i < 200 && (await masterPort()) === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      if ((await masterPort()) === before) throw new Error("no failover within 10 s");
    },
    async stop() {
      sentinel.disconnect();
      for (const child of children) {
        child.kill("SIGKILL");
        await child.status;
      }
      await replica.stop();
      await master.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** A Redis Cluster of three masters (no replicas) on free ports. */
export interface TestCluster {
  /** "host:port,…" of its nodes (REDIS_CLUSTER_NODES). */
  readonly nodes: string;
  readonly ports: number[];
  stop(): Promise<void>;
}

export async function startTestCluster(): Promise<TestCluster> {
  const servers: TestRedis[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      servers.push(
        await startTestRedis(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]),
      );
    }
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...servers.map((server) => `127.0.0.1:${server.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!create.success) {
      throw new Error(`redis-cli --cluster create: ${new TextDecoder().decode(create.stderr)}`);
    }
    const ok = async () => {
      const client = new Redis(servers[0].port, "127.0.0.1", { maxRetriesPerRequest: 1 });
      client.on("error", () => {});
      try {
        const info = await client.call("CLUSTER", "INFO") as string;
        return info.includes("cluster_state:ok");
      } catch {
        return false;
      } finally {
        client.disconnect();
      }
    };
    for (let i = 0; i < 200 && !(await ok()); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!(await ok())) throw new Error("the cluster did not come up within 10 s");
  } catch (error) {
    for (const server of servers) await server.stop();
    throw error;
  }
  return {
    nodes: servers.map((server) => `127.0.0.1:${server.port}`).join(","),
    ports: servers.map((server) => server.port),
    async stop() {
      for (const server of servers) await server.stop();
    },
  };
}
