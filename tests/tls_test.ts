/**
 * TLS with a private CA and client certificates, to PostgreSQL and to Redis, each a server of the
 * test's own that takes nothing else: PostgreSQL authenticates by certificate only (`hostssl …
 * cert`), Redis asks every client for one (`tls-auth-clients yes`). The instance creates its
 * database, migrates (dbmate, over TLS), serves a journey, and every connection it opened is TLS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import postgres from "postgres";
import { loadConfig } from "../src/config.ts";
import { dbmateUrl } from "../src/db/dbmate.ts";
import { postgresConnection, tlsFilesOf } from "../src/db/tls.ts";
import { ADMIN_TOKEN, createAction, httpClient, JWT_SECRET, newUser, register } from "./helpers.ts";
import { startTestPostgres } from "./pg_server.ts";
import { startTestRedis } from "./redis_server.ts";
import { startServer } from "./server.ts";
import { makeTestCa } from "./tls.ts";
import { freePort } from "./ports.ts";

/** The postgres user's ids, to hand it its own copy of the server's key (PostgreSQL insists). */
async function postgresUser(): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) =>
    Number(
      new TextDecoder().decode(
        (await new Deno.Command("id", { args: [flag, "postgres"], stdout: "piped" }).output())
          .stdout,
      ),
    );
  return { uid: await id("-u"), gid: await id("-g") };
}

Deno.test("[tls] PostgreSQL and Redis over TLS with a private CA and client certificates: migrations, a journey, every connection TLS", async () => {
  const ca = await makeTestCa();
  const owner = await postgresUser();
  const serverKey = join(ca.dir, "pg-server.key");
  await Deno.copyFile(ca.serverKey, serverKey);
  await Deno.chown(serverKey, owner.uid, owner.gid);
  const pg = await startTestPostgres({
    conf: [
      "ssl = on",
      `ssl_cert_file = '${ca.serverCert}'`,
      `ssl_key_file = '${serverKey}'`,
      `ssl_ca_file = '${ca.ca}'`,
    ],
    // TLS with a client certificate whose name is the user's, or nothing (the socket: the test).
    hba: "local all all trust\nhostssl all all 127.0.0.1/32 cert\n",
  });
  const tlsPort = freePort();
  const redis = await startTestRedis([
    ...["--tls-port", String(tlsPort), "--tls-cert-file", ca.serverCert],
    ...["--tls-key-file", ca.serverKey, "--tls-ca-cert-file", ca.ca, "--tls-auth-clients", "yes"],
  ]);
  const server = await startServer({
    // A database that does not exist yet: created, then migrated, all over TLS.
    DATABASE_URL: `postgres://postgres@127.0.0.1:${pg.port}/scoreboard?sslmode=verify-full`,
    DATABASE_CA_FILE: ca.ca,
    DATABASE_CLIENT_CERT: ca.clientCert,
    DATABASE_CLIENT_KEY: ca.clientKey,
    REDIS_URL: `rediss://127.0.0.1:${tlsPort}`,
    REDIS_CA_FILE: ca.ca,
    REDIS_CLIENT_CERT: ca.clientCert,
    REDIS_CLIENT_KEY: ca.clientKey,
    JWT_SECRET,
    ADMIN_TOKEN,
    BCRYPT_COST: "4",
    LOG_LEVEL: "info",
  });
  const socket = postgres({
    host: "/var/run/postgresql",
    port: pg.port,
    database: "scoreboard",
    username: "postgres",
    max: 1,
    onnotice: () => {},
  });
  try {
    assert.ok(server.logs.some((line) => line.includes('"line":"Applying: ')), "dbmate migrated");
    const ready = await (await fetch(`${server.url}/readyz`)).json();
    assert.deepEqual([ready.status, ready.postgres, ready.redis], ["ok", "ok", "ok"]);

    await createAction(httpClient(server.url), 3, "tls");
    const session = await register(httpClient(server.url), newUser("tls"));
    const completed = await fetch(`${server.url}/actions/tls/complete`, {
      method: "POST",
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    assert.equal(completed.status, 201);
    await completed.body?.cancel();
    const board = await (await fetch(`${server.url}/leaderboard`)).json();
    assert.equal(board.entries[0].accountId, session.account.id);

    // Every session of the instance's is TLS, with the client certificate.
    const sessions = await socket`
      SELECT a.application_name, s.ssl, s.client_dn FROM pg_stat_ssl s
      JOIN pg_stat_activity a USING (pid) WHERE a.application_name LIKE 'scoreboard%'`;
    assert.ok(sessions.length > 0);
    for (const row of sessions) {
      assert.equal(row.ssl, true, row.application_name);
      assert.equal(row.client_dn, "/CN=postgres");
    }
  } finally {
    await socket.end({ timeout: 5 });
    await server.stop();
    await redis.stop();
    await pg.drop();
    await ca.remove();
  }
});

Deno.test("[tls] libpq's certificate parameters are read, never sent to PostgreSQL as settings", async () => {
  const ca = await makeTestCa();
  try {
    const config = loadConfig({
      DATABASE_URL: "postgres://u@db.internal/scoreboard",
      DATABASE_CA_FILE: ca.ca,
      DATABASE_CLIENT_CERT: ca.clientCert,
      DATABASE_CLIENT_KEY: ca.clientKey,
    });
    const url = new URL(config.databaseUrl!);
    assert.equal(url.searchParams.get("sslmode"), "verify-full");
    assert.equal(url.searchParams.get("sslrootcert"), ca.ca);
    // The URL's own parameters win over the variables.
    const own = loadConfig({
      DATABASE_URL: `postgres://u@db.internal/scoreboard?sslmode=verify-ca&sslrootcert=${ca.ca}`,
      DATABASE_CA_FILE: "/elsewhere.crt",
    });
    assert.equal(new URL(own.databaseUrl!).searchParams.get("sslrootcert"), ca.ca);
    const { url: plain, ssl } = postgresConnection(config.databaseUrl!);
    assert.equal(new URL(plain).search, "");
    assert.equal((ssl as { rejectUnauthorized: boolean }).rejectUnauthorized, true);
    assert.match(String((ssl as { ca: string }).ca), /BEGIN CERTIFICATE/);
    assert.match(String((ssl as { key: string }).key), /PRIVATE KEY/);
    const verifyCa = postgresConnection(own.databaseUrl!).ssl as Record<string, unknown>;
    assert.equal(typeof verifyCa.checkServerIdentity, "function", "verify-ca skips the name");
    // dbmate (lib/pq) gets them as they are.
    assert.equal(new URL(dbmateUrl(config.databaseUrl!)).searchParams.get("sslkey"), ca.clientKey);
    assert.deepEqual(tlsFilesOf(config.databaseUrl!), [ca.ca, ca.clientCert, ca.clientKey]);
  } finally {
    await ca.remove();
  }
});
