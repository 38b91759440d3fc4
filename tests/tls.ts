/**
 * A private CA of one test's own (openssl): a server certificate for 127.0.0.1 and localhost, and a
 * client certificate whose common name is `postgres` (the user PostgreSQL maps it to).
 */
import { join } from "node:path";

/** The files of a test CA, in a directory of its own. */
export interface TestCa {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  remove(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Makes a CA and the certificates it signs. */
export async function makeTestCa(): Promise<TestCa> {
  const dir = await Deno.makeTempDir({ prefix: "scoreboard-ca-" });
  await Deno.chmod(dir, 0o755);
  const days = ["-days", "2"];
  await openssl([
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt"],
    ...[...days, "-subj", "/CN=scoreboard test CA"],
  ], dir);
  for (
    const [name, subject, extensions] of [
      ["server", "/CN=127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
      ["client", "/CN=postgres", "extendedKeyUsage=clientAuth"],
    ]
  ) {
    await openssl([
      ...["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`],
      ...["-subj", subject],
    ], dir);
    await Deno.writeTextFile(join(dir, `${name}.ext`), `${extensions}\n`);
    await openssl([
      ...["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key"],
      ...["-CAcreateserial", "-out", `${name}.crt`, ...days, "-extfile", `${name}.ext`],
    ], dir);
  }
  for (const file of ["ca.crt", "server.crt", "client.crt"]) {
    await Deno.chmod(join(dir, file), 0o644);
  }
  for (const file of ["server.key", "client.key", "ca.key"]) {
    await Deno.chmod(join(dir, file), 0o600);
  }
  return {
    dir,
    ca: join(dir, "ca.crt"),
    serverCert: join(dir, "server.crt"),
    serverKey: join(dir, "server.key"),
    clientCert: join(dir, "client.crt"),
    clientKey: join(dir, "client.key"),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
