/**
 * A first start with nothing set, as a newcomer makes it: the operator token the instance makes
 * and keeps in DATA_DIR, a DATA_DIR outside the checkout with `deno task start` as it is, the one
 * line that says what to run when a `deno run` may not use DATA_DIR, and logs a person can read on
 * a terminal (JSON lines through a pipe).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { lines } from "../src/lines.ts";
import { startServer, startTaskFlags } from "./server.ts";

const ROOT = new URL("../", import.meta.url);

/** The environment of a first start: nothing of the service's set, fast bcrypt. */
const NOTHING_SET = { BCRYPT_COST: "4", BCRYPT_WORKERS: "1" };

/** The JSON record of the first log line whose message starts with `start`. */
function record(logs: string[], start: string): Record<string, unknown> | undefined {
  for (const line of logs) {
    try {
      const parsed = JSON.parse(line);
      if (String(parsed.message).startsWith(start)) return parsed;
    } catch {
      // not a log record
    }
  }
  return undefined;
}

Deno.test("[first start] the instance makes an operator token in DATA_DIR (0600), keeps it, names the file and never the token; the console takes it", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-first-" });
  try {
    let server = await startServer(NOTHING_SET, { dataDir });
    const file = join(dataDir, "admin-token");
    const token = (await Deno.readTextFile(file)).trim();
    assert.ok(token.length >= 43, "at least 256 bits, base64url");
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const listening = record(server.logs, "listening on")!;
    const properties = listening.properties as Record<string, unknown>;
    assert.equal(properties.operatorTokenFile, file);
    assert.equal(properties.console, `${properties.url}/admin/`);
    assert.equal(properties.page, `${properties.url}/`);
    assert.match(String(listening.message), /admin-token/);
    assert.ok(!server.logs.some((line) => line.includes(token)), "the token is never logged");
    assert.ok(!server.logs.some((line) => line.includes('"ERROR"')), server.logs.join("\n"));

    const admin = (t: string) =>
      fetch(`${server.url}/admin/actions`, { headers: { authorization: `Bearer ${t}` } });
    assert.equal((await admin(token)).status, 200);
    assert.equal((await admin("guess")).status, 403);
    await server.stop();

    // The same token after a restart.
    server = await startServer(NOTHING_SET, { dataDir });
    assert.equal((await Deno.readTextFile(file)).trim(), token);
    assert.equal((await admin(token)).status, 200);
    await server.stop();
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("[first start] ADMIN_TOKEN set, or a DATABASE_URL: no token file is made", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-first-" });
  try {
    const server = await startServer({ ...NOTHING_SET, ADMIN_TOKEN: "x".repeat(40) }, { dataDir });
    await server.stop();
    await assert.rejects(Deno.stat(join(dataDir, "admin-token")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

/** Runs `deno task start` as the README says, with `env`; answers its URL once it listens. */
async function taskStart(env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "",
      ...(Deno.env.has("DENO_DIR") ? { DENO_DIR: Deno.env.get("DENO_DIR")! } : {}),
      NO_COLOR: "1",
      PORT: "0",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const logs: string[] = [];
  const port = await new Promise<number>((resolve, reject) => {
    (async () => {
      for await (const line of lines(child.stdout)) {
        logs.push(line);
        const listening = record([line], "listening on");
        if (listening) resolve((listening.properties as { port: number }).port);
      }
      reject(new Error(`deno task start ended:\n${logs.join("\n")}`));
    })();
  });
  return {
    url: `http://127.0.0.1:${port}`,
    logs,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await child.stderr.cancel();
    },
  };
}

Deno.test("[first start] `deno task start` as it is, with DATA_DIR outside the checkout (and a space in it)", async () => {
  const parent = await Deno.makeTempDir({ prefix: "scoreboard-elsewhere-" });
  const dataDir = join(parent, "data dir");
  // As root, PostgreSQL runs as "postgres", which must be able to reach DATA_DIR.
  await Deno.chmod(parent, 0o711);
  try {
    const server = await taskStart({ ...NOTHING_SET, DATA_DIR: dataDir });
    try {
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      assert.ok((await Deno.stat(join(dataDir, "postgres"))).isDirectory);
      assert.ok((await Deno.stat(join(dataDir, "admin-token"))).isFile);
    } finally {
      await server.stop();
    }
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("[first start] a `deno run` that may not use DATA_DIR stops at once with one line saying what to run", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-denied-" });
  try {
    // The start task's flags for ./data, DATA_DIR elsewhere: as a hand-written `deno run` would.
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...startTaskFlags("./data"), "main.ts"],
      cwd: ROOT,
      env: { ...NOTHING_SET, DATA_DIR: dataDir, PORT: "0", LOG_FORMAT: "json" },
      stdin: "null",
    }).output();
    assert.equal(out.code, 1);
    const text = new TextDecoder().decode(out.stdout);
    const errors = text.split("\n").filter((line) => line.includes('"ERROR"'));
    assert.equal(errors.length, 1, text);
    assert.match(errors[0], /deno task start/);
    assert.ok(errors[0].includes(`--allow-write=\\"${dataDir}\\"`), errors[0]);
    assert.deepEqual([...Deno.readDirSync(dataDir)], [], "nothing was made there");
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("[first start] logs are JSON lines through a pipe, readable lines on a terminal, and no ERROR either way", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "scoreboard-pretty-" });
  try {
    const piped = await startServer(NOTHING_SET, { dataDir });
    await piped.stop();
    const records = piped.logs.filter((line) => line.startsWith("{"));
    assert.ok(records.length > 3);
    for (const line of records) JSON.parse(line);

    // On a pseudo-terminal (util-linux's script), the same start writes readable lines.
    const command = ["deno", "run", ...startTaskFlags(dataDir), "main.ts"]
      .map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(" ");
    const child = new Deno.Command("script", {
      args: ["-qfec", command, "/dev/null"],
      cwd: ROOT,
      env: { ...NOTHING_SET, DATA_DIR: dataDir, PORT: "0", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const seen: string[] = [];
    for await (const line of lines(child.stdout)) {
      seen.push(line);
      if (line.includes("listening on")) break;
    }
    child.kill("SIGTERM");
    await child.status;
    const text = seen.join("\n");
    assert.match(text, /\[INF\] scoreboard\.start: listening on http:\/\/localhost:\d+/, text);
    assert.ok(!seen.some((line) => line.trimStart().startsWith("{")), text);
    assert.ok(!/ERR|FATAL/.test(text), text);
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
