/**
 * A PostgreSQL cluster of one test's own (Debian's pg_createcluster, trust auth, a free port),
 * to stop and start mid-test without touching the machine's shared server. Dropped by `drop`.
 */
import postgres from "postgres";
import { dbmate } from "../src/db/dbmate.ts";
import { freePort } from "./ports.ts";

/** A cluster of a test's own. */
export interface TestPostgres {
  readonly port: number;
  /** The URL of database `name` on it. */
  url(name: string): string;
  /** Stops it (fast shutdown: sessions are terminated, new connections refused). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Creates database `name` and applies the migrations. */
  migrated(name: string): Promise<string>;
  /** Stops it and removes it with its data. */
  drop(): Promise<void>;
}

async function run(command: string, args: string[]): Promise<void> {
  const out = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${command} ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** What to change in a cluster before it starts. */
export interface ClusterSettings {
  /** Lines appended to postgresql.conf. */
  conf?: string[];
  /** pg_hba.conf's whole text. */
  hba?: string;
}

/** Creates and starts a cluster of the machine's PostgreSQL version, with `settings`. */
export async function startTestPostgres(settings: ClusterSettings = {}): Promise<TestPostgres> {
  const version = [...Deno.readDirSync("/etc/postgresql")][0].name;
  const name = `sbtest_${crypto.randomUUID().slice(0, 8)}`;
  const port = freePort();
  await run("pg_createcluster", [version, name, "--port", String(port), "--", "--auth=trust"]);
  const confDir = `/etc/postgresql/${version}/${name}`;
  if (settings.conf) {
    await Deno.writeTextFile(`${confDir}/postgresql.conf`, `\n${settings.conf.join("\n")}\n`, {
      append: true,
    });
  }
  if (settings.hba !== undefined) await Deno.writeTextFile(`${confDir}/pg_hba.conf`, settings.hba);
  const cluster = {
    port,
    url: (db: string) => `postgres://postgres@127.0.0.1:${port}/${db}`,
    stop: () => run("pg_ctlcluster", [version, name, "stop", "-m", "fast"]),
    start: () => run("pg_ctlcluster", [version, name, "start"]),
    async migrated(db: string) {
      const admin = postgres(cluster.url("postgres"), { max: 1, onnotice: () => {} });
      try {
        await admin`CREATE DATABASE ${admin(db)}`;
      } finally {
        await admin.end({ timeout: 5 });
      }
      const code = await dbmate(["up"], cluster.url(db), { quiet: true });
      if (code !== 0) throw new Error(`dbmate up failed on ${db}`);
      return cluster.url(db);
    },
    drop: () => run("pg_dropcluster", ["--stop", version, name]),
  };
  try {
    await cluster.start();
  } catch (error) {
    await cluster.drop().catch(() => {});
    throw error;
  }
  return cluster;
}
