/**
 * Debian's nginx (1.22) with the project's own deploy/nginx.conf, for tests: the file as it is but
 * for its listen port, with the test's instances in place of deploy/nginx-servers.conf's `app:8000`
 * (the same parameters, less `resolve`: 1.22 has none, and the test's instances are addresses).
 * It runs unprivileged, with its pid file, temporary files and log under a temporary directory.
 */
import { accepts, freePort } from "./ports.ts";

const CONFIG = new URL("../deploy/nginx.conf", import.meta.url);
const SERVERS = new URL("../deploy/nginx-servers.conf", import.meta.url);

/** A running nginx in front of some instances. */
export interface TestProxy {
  readonly url: string;
  readonly port: number;
  /** What nginx wrote on stderr so far (its error log). */
  errors(): string;
  stop(): Promise<void>;
}

/** Replaces the one line that matches `pattern`, failing when the file no longer has exactly one. */
function replaceOnce(text: string, pattern: RegExp, replacement: string, file: string): string {
  const matches = text.match(new RegExp(pattern.source, "gm")) ?? [];
  if (matches.length !== 1) {
    throw new Error(`${file}: expected one line matching ${pattern}, got ${matches.length}`);
  }
  return text.replace(pattern, replacement);
}

/** deploy/nginx.conf listening on `port`. */
export function proxyConfig(port: number): string {
  return replaceOnce(
    Deno.readTextFileSync(CONFIG),
    /^(\s*)listen 8080;$/m,
    `$1listen 127.0.0.1:${port};`,
    "deploy/nginx.conf",
  );
}

/** deploy/nginx-servers.conf with `upstreams` (host:port) in place of `app:8000`. */
export function serversConfig(upstreams: string[]): string {
  return replaceOnce(
    Deno.readTextFileSync(SERVERS),
    /^server app:8000 resolve( [^;]*)?;$/m,
    upstreams.map((upstream) => `server ${upstream}$1;`).join("\n"),
    "deploy/nginx-servers.conf",
  );
}

function nginxBinary(): string {
  for (const path of ["/usr/sbin/nginx", "/usr/bin/nginx"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there
    }
  }
  throw new Error("nginx is not installed (Debian's package `nginx`; .ci/run installs it)");
}

/** Starts nginx in front of `upstreams` and waits until it accepts connections. */
export async function startProxy(upstreams: string[]): Promise<TestProxy> {
  const dir = await Deno.makeTempDir({ prefix: "scoreboard-nginx-" });
  const port = freePort();
  const conf = `${dir}/nginx.conf`;
  await Deno.writeTextFile(conf, proxyConfig(port));
  // nginx.conf includes it by a relative name: next to the configuration file.
  const servers = `${dir}/scoreboard-servers.conf`;
  await Deno.writeTextFile(servers, serversConfig(upstreams));
  const args = ["-p", `${dir}/`, "-c", conf, "-e", `${dir}/error.log`, "-g", "daemon off;"];
  let program = nginxBinary();
  if (Deno.uid() === 0) {
    // Not as root: nginx then needs nothing but its own directory.
    await Deno.chown(dir, 65534, 65534);
    await Deno.chown(conf, 65534, 65534);
    await Deno.chown(servers, 65534, 65534);
    args.unshift("--reuid=65534", "--regid=65534", "--clear-groups", program);
    program = "setpriv";
  }
  const child = new Deno.Command(program, {
    args,
    stdin: "null",
    // The access log goes to /dev/stdout, which an unprivileged nginx can open only when it is
    // /dev/null; error_log is stderr itself.
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const pumped = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) stderr += chunk;
  })();
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);

  for (let i = 0; i < 100 && !exited && !(await accepts(port)); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (exited || !(await accepts(port))) {
    if (!exited) child.kill("SIGKILL");
    await status;
    await pumped;
    await Deno.remove(dir, { recursive: true });
    throw new Error(`nginx did not start:\n${stderr}`);
  }

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    errors: () => stderr,
    async stop() {
      // SIGTERM is nginx's fast shutdown: open streams do not hold it up.
      if (!exited) child.kill("SIGTERM");
      await status;
      await pumped;
      await Deno.remove(dir, { recursive: true });
    },
  };
}
