/**
 * The Dockerfile, checked without Docker: its instructions read with a Dockerfile parser, and its
 * `deno` RUN commands, CMD and HEALTHCHECK run as written on a fresh copy of the build context
 * with an empty DENO_DIR — then the server starts from that copy with no way to fetch a package.
 */
import assert from "node:assert/strict";
import balena from "@balena/dockerignore";
import { DockerfileParser, type Healthcheck, type JSONInstruction } from "dockerfile-ast";
import postgres from "postgres";
import { ADMIN_DATABASE_URL, databaseUrl, TEST_DATABASE_PREFIX } from "./env.ts";
import { clearRedisPrefix, JWT_SECRET, newUser, randomPrefix, REDIS_URL } from "./helpers.ts";
import { startTaskFlags } from "./server.ts";
import { freePort } from "./ports.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

/** .dockerignore's rules, read as Docker reads them. */
function dockerignore() {
  // The package is CommonJS; its typings describe the function as its default export.
  return balena.default({ ignorecase: false }).add(read(".dockerignore"));
}

/** One instruction: its keyword, its arguments as written, and its exec-form array if it has one. */
interface Step {
  keyword: string;
  content: string;
  args: string[];
  exec: string[] | null;
}

function dockerfile(): Step[] {
  return DockerfileParser.parse(read("Dockerfile")).getInstructions().map((instruction) => {
    const keyword = instruction.getKeyword();
    const content = instruction.getArgumentsContent() ?? "";
    let exec: string[] | null = null;
    if (keyword === "CMD" || keyword === "ENTRYPOINT") {
      const strings = (instruction as JSONInstruction).getJSONStrings();
      exec = strings.length > 0 ? strings.map((s) => s.getJSONValue()) : null;
    } else if (keyword === "HEALTHCHECK") {
      const sub = (instruction as Healthcheck).getSubcommand();
      if (sub?.getValue().toUpperCase() === "CMD") {
        const json = content.slice(content.indexOf(sub.getValue()) + sub.getValue().length).trim();
        exec = json.startsWith("[") ? JSON.parse(json) : null;
      }
    }
    return {
      keyword,
      content,
      args: instruction.getArguments().map((a) => a.getValue()),
      exec,
    };
  });
}

function only(steps: Step[], keyword: string): Step {
  const found = steps.filter((step) => step.keyword === keyword);
  assert.equal(found.length, 1, `one ${keyword}`);
  return found[0];
}

Deno.test("[deploy] the Dockerfile: pinned Deno, a dependency layer, non-root, the server's exact permissions", () => {
  const steps = dockerfile();
  const version = /^DENO_VERSION=(.+)$/m.exec(read(".ci/run"))![1];
  assert.match(only(steps, "FROM").content, new RegExp(`^denoland/deno:(debian-)?${version}$`));

  // deno.json, deno.lock and the linked packages alone, then the frozen install: a layer that
  // only they invalidate.
  const copies = steps.filter((step) => step.keyword === "COPY");
  assert.deepEqual(copies[0].args, ["deno.json", "deno.lock", "./"]);
  const links: string[] = JSON.parse(read("deno.json")).links ?? [];
  assert.deepEqual(links, ["./vendor/postgres"]);
  assert.deepEqual(copies[1].args, ["vendor/", "./vendor/"]);
  const next = steps[steps.indexOf(copies[1]) + 1];
  assert.equal(next.keyword, "RUN");
  assert.match(next.content, /^deno install --frozen\b/);

  const user = only(steps, "USER").content;
  assert.ok(!["root", "0"].includes(user.split(":")[0]), `USER ${user}`);
  assert.deepEqual(only(steps, "VOLUME").args, ["/app/data"]);
  assert.equal(only(steps, "WORKDIR").content, "/app");

  // Exec form, so that SIGTERM reaches Deno; the start task's flags, plus --cached-only and the
  // build's node_modules as it is.
  assert.deepEqual(only(steps, "CMD").exec, [
    "run",
    "--cached-only",
    "--node-modules-dir=manual",
    ...startTaskFlags(),
    "main.ts",
  ]);
  const health = only(steps, "HEALTHCHECK").exec;
  assert.ok(health, "HEALTHCHECK CMD in exec form");
  assert.deepEqual(health.slice(0, 4), [
    "deno",
    "run",
    "--cached-only",
    "--node-modules-dir=manual",
  ]);
  assert.ok(
    !health.some((arg) => /^(-A|--allow-all|--allow-net|--allow-env|--allow-read)$/.test(arg)),
  );

  const ignored = dockerignore();
  for (const path of ["node_modules/x", ".env", ".env.production", "data/pg", ".git/HEAD"]) {
    assert.ok(ignored.ignores(path), `.dockerignore leaves out ${path}`);
  }
  for (
    const path of [
      "main.ts",
      "src/app.ts",
      "migrations/x.sql",
      "deno.json",
      "deno.lock",
      "vendor/postgres/src/connection.js",
    ]
  ) {
    assert.ok(!ignored.ignores(path), `.dockerignore keeps ${path}`);
  }
});

/** The build context: the repository's files (tracked or not ignored by git), less .dockerignore. */
async function contextFiles(): Promise<string[]> {
  const out = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: ROOT,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const ignored = dockerignore();
  return new TextDecoder().decode(out.stdout).split("\0").filter(Boolean)
    .filter((path) => !ignored.ignores(path))
    .filter((path) => {
      try {
        return Deno.statSync(new URL(path, ROOT)).isFile;
      } catch {
        return false; // deleted in the work tree
      }
    });
}

/**
 * COPY <sources…> <dest> from the context into `dir` (the image's WORKDIR): files to WORKDIR, or
 * one directory to the same path under it (`COPY vendor/ ./vendor/`).
 */
async function copy(step: Step, files: string[], dir: string): Promise<void> {
  const sources = step.args.slice(0, -1).map((source) => source.replace(/\/$/, ""));
  const dest = step.args.at(-1)!;
  assert.ok(
    dest === "." || dest === "./" || (sources.length === 1 && dest === `./${sources[0]}/`),
    `COPY to ${dest}: this test copies to WORKDIR, or a directory to its own path there`,
  );
  const picked = files.filter((file) =>
    sources.some((source) => source === "." || file === source || file.startsWith(`${source}/`))
  );
  for (const source of sources) {
    assert.ok(
      picked.some((file) => source === "." || file === source || file.startsWith(`${source}/`)),
      source,
    );
  }
  for (const file of picked) {
    const target = `${dir}/${file}`;
    await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
    await Deno.copyFile(new URL(file, ROOT), target);
  }
}

/** As root, run as nobody (the image runs as an unprivileged user that owns none of /app). */
function asImageUser(program: string, args: string[]): [string, string[]] {
  if (Deno.uid() !== 0) return [program, args];
  return ["setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", program, ...args]];
}

Deno.test({
  name:
    "[deploy] the Dockerfile's install and start commands, run as written, serve from a fresh copy with --cached-only",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const steps = dockerfile();
    const tmp = await Deno.makeTempDir({ prefix: "scoreboard-image-" });
    const app = `${tmp}/app`;
    const denoDir = `${tmp}/deno-dir`;
    await Deno.mkdir(app);
    await Deno.mkdir(denoDir);
    const name = `${TEST_DATABASE_PREFIX}image_${crypto.randomUUID().slice(0, 8)}`;
    const prefix = randomPrefix();
    const denoBin = Deno.execPath();
    const path = `${denoBin.slice(0, denoBin.lastIndexOf("/"))}:${Deno.env.get("PATH") ?? ""}`;
    let server: Deno.ChildProcess | undefined;
    try {
      // The build: ENV, COPY and the `deno` RUN commands, in order. Other RUNs set up the image's
      // own directories (/app/data) and are left out.
      const env: Record<string, string> = {};
      const files = await contextFiles();
      const ran: string[] = [];
      for (const step of steps) {
        if (step.keyword === "ENV") {
          for (const arg of step.args) {
            const eq = arg.indexOf("=");
            env[arg.slice(0, eq)] = arg.slice(eq + 1);
          }
        } else if (step.keyword === "COPY") {
          await copy(step, files, app);
        } else if (step.keyword === "RUN" && /^deno\s/.test(step.content)) {
          // The build reaches the registry as this machine does (its proxy and CA settings).
          const out = await new Deno.Command("sh", {
            args: ["-c", step.content],
            cwd: app,
            env: { ...env, PATH: path, DENO_DIR: denoDir },
            stdin: "null",
          }).output();
          const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, `RUN ${step.content}\n${text}`);
          ran.push(step.content);
        }
      }
      assert.ok(ran.length >= 2, `the deno RUN commands: ${ran.join(" | ")}`);
      // The PostgreSQL client is vendor/'s patched postgres.js, not the registry's.
      const client = await Deno.readTextFile(
        `${app}/node_modules/.deno/postgres@3.4.9/node_modules/postgres/src/connection.js`,
      );
      assert.match(client, /\[scoreboard patch\]/);
      await new Deno.Command("chmod", { args: ["-R", "a+rX", tmp] }).output();

      // The container: the image's entrypoint execs `deno` with CMD, which starts with a deno
      // subcommand. Packages can come from nowhere: a registry that refuses every connection.
      const cmd = only(steps, "CMD").exec!;
      assert.equal(cmd[0], "run");
      const port = freePort();
      const runEnv = {
        ...env,
        PATH: path,
        HOME: tmp,
        DENO_DIR: denoDir,
        NPM_CONFIG_REGISTRY: "http://127.0.0.1:9/",
        DATABASE_URL: databaseUrl(name),
        REDIS_URL,
        REDIS_KEY_PREFIX: prefix,
        JWT_SECRET,
        BCRYPT_COST: "4",
        PORT: String(port),
        LOG_LEVEL: "info",
      };
      const [program, args] = asImageUser("deno", cmd);
      server = new Deno.Command(program, {
        args,
        cwd: app,
        clearEnv: true,
        env: runEnv,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const logs: string[] = [];
      const decoder = new TextDecoder();
      const collect = async (stream: ReadableStream<Uint8Array>) => {
        for await (const chunk of stream) logs.push(decoder.decode(chunk));
      };
      const collected = Promise.all([collect(server.stdout), collect(server.stderr)]);
      const exited = server.status;

      const base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 60_000;
      let healthz: Response | undefined;
      while (!healthz) {
        const status = await Promise.race([exited, new Promise((r) => setTimeout(r, 200))]);
        if (status) {
          throw new Error(`the server exited: ${JSON.stringify(status)}\n${logs.join("")}`);
        }
        healthz = await fetch(`${base}/healthz`).catch(() => undefined);
        if (Date.now() > deadline) throw new Error(`no /healthz after 60 s\n${logs.join("")}`);
      }
      assert.equal(healthz.status, 200);
      await healthz.body?.cancel();

      const register = await fetch(`${base}/auth/register`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(newUser("image")),
      });
      assert.equal(register.status, 201, await register.clone().text());
      await register.body?.cancel();
      const board = await fetch(`${base}/leaderboard`);
      assert.equal(board.status, 200);
      assert.deepEqual((await board.json()).entries, []);

      // The HEALTHCHECK, as written, against the running container.
      const health = only(steps, "HEALTHCHECK").exec!;
      const [hProgram, hArgs] = asImageUser(health[0], health.slice(1));
      const runProbe = () =>
        new Deno.Command(hProgram, {
          args: hArgs,
          cwd: app,
          clearEnv: true,
          env: runEnv,
          stdin: "null",
        }).output();
      const probe = await runProbe();
      assert.equal(probe.code, 0, new TextDecoder().decode(probe.stderr));

      // Migrations ran from the copy (its own dbmate binary); SIGTERM drains and exits 0.
      server.kill("SIGTERM");
      assert.equal((await exited).code, 0);
      server = undefined;
      await collected;
      const text = logs.join("");
      assert.match(text, /Applying: /);
      assert.doesNotMatch(text, /Download|npm registry|error/i);

      // With the server gone, the same probe fails.
      const down = await runProbe();
      assert.equal(down.code, 1);
    } finally {
      if (server) {
        try {
          server.kill("SIGKILL");
        } catch {
          // it had exited already
        }
        await server.status;
      }
      const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
      await admin`DROP DATABASE IF EXISTS ${admin(name)} WITH (FORCE)`;
      await admin.end({ timeout: 5 });
      await clearRedisPrefix(prefix);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
