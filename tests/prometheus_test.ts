/**
 * The operations kit (deploy/prometheus/, deploy/grafana/): promtool checks the rules and the
 * scrape configuration and runs the alerts' unit tests; Debian's Prometheus scrapes a real
 * instance, loads the rules, and accepts every query of the Grafana dashboard.
 */
import assert from "node:assert/strict";
import {
  clearRedisPrefix,
  createTestDatabase,
  eventually,
  randomPrefix,
  testEnv,
} from "./helpers.ts";
import { startServer } from "./server.ts";
import { freePort } from "./ports.ts";

const DEPLOY = new URL("../deploy/", import.meta.url);

async function promtool(...args: string[]): Promise<string> {
  const out = await new Deno.Command("promtool", {
    args,
    cwd: new URL("prometheus/", DEPLOY),
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `promtool ${args.join(" ")}:\n${text}`);
  return text;
}

Deno.test("[ops kit] promtool: the rules and the scrape configuration check, and every alert's unit test passes", async () => {
  assert.match(await promtool("check", "rules", "alerts.yml"), /SUCCESS: 13 rules found/);
  assert.match(await promtool("test", "rules", "alerts_test.yml"), /SUCCESS/);
  // The shipped file with its token file where this machine has one (the stack writes
  // /tmp/metrics-token in Prometheus's container as it starts; promtool asks that it exist).
  const dir = await Deno.makeTempDir({ prefix: "scoreboard-promtool-" });
  try {
    const shipped = await Deno.readTextFile(new URL("prometheus/prometheus.yml", DEPLOY));
    assert.match(shipped, /credentials_file: \/tmp\/metrics-token\n/);
    await Deno.writeTextFile(`${dir}/metrics-token`, "");
    await Deno.copyFile(new URL("prometheus/alerts.yml", DEPLOY), `${dir}/alerts.yml`);
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      shipped.replace("/tmp/metrics-token", `${dir}/metrics-token`),
    );
    assert.match(await promtool("check", "config", `${dir}/prometheus.yml`), /SUCCESS/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // Each alert of the file has a test that expects it to fire.
  const rules = await Deno.readTextFile(new URL("prometheus/alerts.yml", DEPLOY));
  const tests = await Deno.readTextFile(new URL("prometheus/alerts_test.yml", DEPLOY));
  for (const [, name] of rules.matchAll(/- alert: (\w+)/g)) {
    assert.match(
      tests,
      new RegExp(`alertname: ${name}\\n\\s+exp_alerts:\\n\\s+- exp_labels`),
      name,
    );
  }
});

Deno.test("[ops kit] Prometheus scrapes a real instance, loads the alert rules, and takes every dashboard query", async () => {
  const db = await createTestDatabase();
  const prefix = randomPrefix();
  const server = await startServer(testEnv(db, prefix));
  const dir = await Deno.makeTempDir({ prefix: "scoreboard-prometheus-" });
  const port = freePort();
  let prometheus: Deno.ChildProcess | undefined;
  try {
    await Deno.copyFile(new URL("prometheus/alerts.yml", DEPLOY), `${dir}/alerts.yml`);
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "rule_files: [alerts.yml]",
        "scrape_configs:",
        "  - job_name: scoreboard",
        `    static_configs: [{ targets: ["127.0.0.1:${server.port}"] }]`,
      ].join("\n"),
    );
    prometheus = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const api = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/${path}`);
      return await res.json();
    };
    const query = (expr: string) => api(`query?query=${encodeURIComponent(expr)}`);
    await eventually(async () => {
      try {
        const up = await query('up{job="scoreboard"}');
        return up.data?.result?.[0]?.value?.[1] === "1";
      } catch {
        return false;
      }
    }, 30_000);
    const info = await query("scoreboard_build_info");
    assert.equal(info.data.result[0].metric.mode, "scale-out");

    const rules = await api("rules");
    const loaded = rules.data.groups.flatMap((
      group: { rules: { name: string; health: string }[] },
    ) => group.rules);
    assert.equal(loaded.length, 13);
    await eventually(async () => {
      const again = await api("rules");
      return again.data.groups[0].rules.every((rule: { health: string }) => rule.health === "ok");
    }, 10_000);

    const dashboard = JSON.parse(
      await Deno.readTextFile(new URL("grafana/scoreboard.json", DEPLOY)),
    );
    assert.ok(dashboard.panels.length >= 12);
    for (const panel of dashboard.panels) {
      for (const target of panel.targets) {
        const answer = await query(target.expr);
        assert.equal(answer.status, "success", `${panel.title}: ${JSON.stringify(answer)}`);
      }
    }
  } finally {
    prometheus?.kill("SIGTERM");
    await prometheus?.status;
    await server.stop();
    await db.drop();
    await clearRedisPrefix(prefix);
    await Deno.remove(dir, { recursive: true });
  }
});
